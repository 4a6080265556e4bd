/**
 * Debian's miniupnpd as a lab router's daemon: its config, start (waiting
 * until it listens), a restart that loses its table, and the forwards it
 * wrote. Used by router-lab.ts and mapped-xtcp-lab.ts; the caller owns the
 * namespace and spawns the process (so the lab kills it at close).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep } from '../../netsim/kernel/exec.js';

export interface MiniupnpdConfig {
  /** NAT-PMP and PCP (one switch in 2.3.1). */
  natpmp: boolean;
  upnp: boolean;
  /** The LAN allowed to map, e.g. 192.168.77.0/24. */
  lan: string;
  uuid: string;
}

export class Miniupnpd {
  private process: ChildProcess | null = null;
  private startedAt = 0;
  private output = '';

  constructor(
    private readonly ns: string,
    private readonly dir: string,
    private readonly config: MiniupnpdConfig,
    private readonly spawnIn: (ns: string, cmd: string, args: string[]) => ChildProcess,
  ) {
    writeFileSync(
      join(dir, 'miniupnpd.conf'),
      [
        'ext_ifname=wan0',
        'listening_ip=lan0',
        `enable_natpmp=${config.natpmp ? 'yes' : 'no'}`,
        `enable_upnp=${config.upnp ? 'yes' : 'no'}`,
        'secure_mode=yes',
        'system_uptime=no',
        `uuid=${config.uuid}`,
        `allow 1024-65535 ${config.lan} 1024-65535`,
        'deny 0-65535 0.0.0.0/0 0-65535',
        '',
      ].join('\n'),
    );
  }

  /** Everything the daemon printed (the last 20 000 characters), for failure messages. */
  get log(): string {
    return this.output;
  }

  /** How long the current daemon has run (its epoch, roughly). */
  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  /** Starts miniupnpd and waits until it listens. */
  async start(): Promise<void> {
    const d = this.spawnIn(this.ns, 'miniupnpd', ['-f', join(this.dir, 'miniupnpd.conf'), '-d', '-P', join(this.dir, 'miniupnpd.pid')]);
    this.process = d;
    this.startedAt = Date.now();
    const from = this.output.length;
    const keep = (c: string) => (this.output = (this.output + c).slice(-20_000));
    d.stdout?.setEncoding('utf8').on('data', keep);
    d.stderr?.setEncoding('utf8').on('data', keep);
    const ready = this.config.natpmp ? /Listening for NAT-PMP/ : /HTTP listening on port/;
    const deadline = Date.now() + 10_000;
    while (!ready.test(this.output.slice(Math.min(from, Math.max(0, this.output.length - 1000))))) {
      if (Date.now() > deadline || d.exitCode !== null) throw new Error(`miniupnpd did not start: ${this.output.slice(-1000)}`);
      await sleep(50);
    }
  }

  /**
   * A restart that loses the table: the daemon stopped (`signal`; SIGKILL
   * gives it no chance to clean up), its chains flushed as a fresh start finds
   * them, started again. `dropUdpFlows`: also forget the router's UDP
   * conntrack entries, as a rebooted router would (otherwise a flow already
   * running keeps its DNAT through conntrack and nothing on the wire changes).
   */
  async restart(opts: { signal: 'SIGTERM' | 'SIGKILL'; dropUdpFlows?: boolean }): Promise<void> {
    const d = this.process;
    if (d !== null && d.exitCode === null) {
      const gone = new Promise((r) => d.on('close', r));
      d.kill(opts.signal);
      await Promise.race([gone, sleep(5000)]);
      if (d.exitCode === null) d.kill('SIGKILL');
    }
    for (const chain of ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd']) {
      await run('ip', ['netns', 'exec', this.ns, 'nft', 'flush', 'chain', 'inet', 'filter', chain]);
    }
    if (opts.dropUdpFlows === true) {
      // conntrack exits non-zero when nothing matched: that is fine here.
      await run('ip', ['netns', 'exec', this.ns, 'conntrack', '-D', '-p', 'udp'], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await this.start();
  }

  /** The router's port forwards as miniupnpd wrote them: external port → LAN ip:port. */
  async forwards(): Promise<Array<{ externalPort: number; to: string; port: number }>> {
    const r = await run('ip', ['netns', 'exec', this.ns, 'nft', 'list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd']);
    return [...r.stdout.matchAll(/dport (\d+) dnat ip to (\d+\.\d+\.\d+\.\d+):(\d+)/g)].map((m) => ({
      externalPort: Number(m[1]),
      to: m[2] ?? '',
      port: Number(m[3]),
    }));
  }
}

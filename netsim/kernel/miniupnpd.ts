/**
 * Debian's miniupnpd (package miniupnpd-nftables, 2.3.1) as a lab router's
 * port-mapping daemon: the nftables structure it fills, its config, start
 * (waiting until it listens), a restart that loses its table, and the
 * forwards it wrote. Used by the kernel lab's port-mapping sites
 * (profiles.ts `upnp-router`, portmap-site.ts) and by test/portmap's router
 * labs. The caller owns the namespace and spawns the process, so whoever
 * tears the namespace down kills the daemon and drops its rules with it.
 *
 * Facts this relies on (verified here, see shared/REACH-FACTS.md):
 * - it refuses to forward ("Port forwarding is impossible") when its WAN
 *   address is reserved (RFC 1918, 100.64/10, TEST-NET, 198.18/15, …);
 * - the package ships no working nft_init.sh: the chains it writes into must
 *   exist before it starts (miniupnpdRuleset below);
 * - it adds no source-NAT for mapped ports: what the inside host sends first
 *   leaves through the router's ordinary masquerade;
 * - `enable_natpmp` switches NAT-PMP and PCP together (one port, 5351).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep } from './exec.js';

/** The chains miniupnpd fills (its defaults; named in its config too). */
export const MINIUPNPD_CHAINS = ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd'] as const;

export interface MiniupnpdRulesetOptions {
  /** The nftables table (family inet) that holds everything; miniupnpd is told its name. */
  table: string;
  /** Outside and inside interfaces of the router. */
  wan: string;
  lan: string;
  /** The ordinary source NAT, e.g. `masquerade random,fully-random`. */
  masquerade: string;
}

/**
 * The router's nftables for miniupnpd: the three chains it fills (empty), a
 * forward filter that lets DNAT'ed (mapped) traffic in besides replies and
 * LAN → out, and nat base chains that jump to miniupnpd's chains first and
 * then do the ordinary masquerade.
 */
export function miniupnpdRuleset(o: MiniupnpdRulesetOptions): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    `table inet ${o.table} {`,
    ...MINIUPNPD_CHAINS.flatMap((c) => [`  chain ${c} {`, `  }`]),
    `  chain forward {`,
    `    type filter hook forward priority 0; policy drop;`,
    `    iifname ${q(o.lan)} accept`,
    `    ct state established,related accept`,
    `    ct status dnat accept`,
    `  }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority -101;`,
    `    jump prerouting_miniupnpd`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority 99;`,
    `    jump postrouting_miniupnpd`,
    `    oifname ${q(o.wan)} ${o.masquerade}`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export interface MiniupnpdConfig {
  /** NAT-PMP and PCP (one switch in 2.3.1). */
  natpmp: boolean;
  upnp: boolean;
  /** The LAN allowed to map, e.g. 192.168.77.0/24. */
  lan: string;
  uuid: string;
  /** Outside interface (default wan0). */
  extIf?: string;
  /** Inside interface it listens on (default lan0). */
  listenIf?: string;
  /** The nftables table (family inet) holding its chains (default: miniupnpd's own default, filter). */
  table?: string;
}

/**
 * The daemon's process as Miniupnpd needs it: its output, whether it runs, a
 * signal, its end. The caller starts it (and so owns it): a lab's process
 * handle or a plain child (childDaemon).
 */
export interface DaemonProcess {
  /** What it printed so far, stdout and stderr (a bounded tail is enough). */
  output(): string;
  readonly running: boolean;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
  readonly exited: Promise<unknown>;
}

/** A node child process as a DaemonProcess (its output kept, the last 20 000 characters). */
export function childDaemon(child: ChildProcess): DaemonProcess {
  let out = '';
  const keep = (c: string): void => void (out = (out + c).slice(-20_000));
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null) r();
    child.on('close', () => r());
    child.on('error', () => r());
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    output: () => out,
    get running() {
      return !done && child.exitCode === null;
    },
    kill: (signal) => void child.kill(signal),
    exited,
  };
}

export class Miniupnpd {
  private process: DaemonProcess | null = null;
  private startedAt = 0;
  /** Output of daemons that ran before the current one (restarts). */
  private earlier = '';
  private readonly table: string;

  /**
   * Writes the config into `dir` (a directory the namespace sees at the same
   * path); `spawnIn` starts a long-running process in a namespace and owns it.
   */
  constructor(
    private readonly ns: string,
    private readonly dir: string,
    private readonly config: MiniupnpdConfig,
    private readonly spawnIn: (ns: string, cmd: string, args: string[]) => DaemonProcess,
  ) {
    this.table = config.table ?? 'filter';
    writeFileSync(
      join(dir, 'miniupnpd.conf'),
      [
        `ext_ifname=${config.extIf ?? 'wan0'}`,
        `listening_ip=${config.listenIf ?? 'lan0'}`,
        `enable_natpmp=${config.natpmp ? 'yes' : 'no'}`,
        `enable_upnp=${config.upnp ? 'yes' : 'no'}`,
        'secure_mode=yes',
        'system_uptime=no',
        `uuid=${config.uuid}`,
        ...(config.table !== undefined ? [`upnp_table_name=${config.table}`, `upnp_nat_table_name=${config.table}`] : []),
        `allow 1024-65535 ${config.lan} 1024-65535`,
        'deny 0-65535 0.0.0.0/0 0-65535',
        '',
      ].join('\n'),
    );
  }

  /** Everything the daemon printed (the last 20 000 characters, restarts included), for failure messages. */
  get log(): string {
    return (this.earlier + (this.process?.output() ?? '')).slice(-20_000);
  }

  /** How long the current daemon has run (its epoch, roughly). */
  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  /** Whether the current daemon still runs. */
  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Starts miniupnpd and waits (bounded) until it listens. */
  async start(): Promise<void> {
    if (this.process !== null) this.earlier = this.log;
    const d = this.spawnIn(this.ns, 'miniupnpd', ['-f', join(this.dir, 'miniupnpd.conf'), '-d', '-P', join(this.dir, 'miniupnpd.pid')]);
    this.process = d;
    this.startedAt = Date.now();
    const ready = this.config.natpmp ? /Listening for NAT-PMP/ : /HTTP listening on port/;
    const deadline = Date.now() + 10_000;
    while (!ready.test(d.output())) {
      if (Date.now() > deadline || !d.running) throw new Error(`miniupnpd did not start: ${d.output().slice(-1000)}`);
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
    if (d !== null && d.running) {
      d.kill(opts.signal);
      await Promise.race([d.exited, sleep(5000)]);
      if (d.running) d.kill('SIGKILL');
    }
    for (const chain of MINIUPNPD_CHAINS) {
      await run('ip', ['netns', 'exec', this.ns, 'nft', 'flush', 'chain', 'inet', this.table, chain]);
    }
    if (opts.dropUdpFlows === true) {
      // conntrack exits non-zero when nothing matched: that is fine here.
      await run('ip', ['netns', 'exec', this.ns, 'conntrack', '-D', '-p', 'udp'], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await this.start();
  }

  /** The router's port forwards as miniupnpd wrote them: external port → LAN ip:port. */
  async forwards(): Promise<Array<{ externalPort: number; to: string; port: number }>> {
    const r = await run('ip', ['netns', 'exec', this.ns, 'nft', 'list', 'chain', 'inet', this.table, 'prerouting_miniupnpd']);
    return parseForwards(r.stdout);
  }
}

/** The DNAT rules of an `nft list chain … prerouting_miniupnpd` listing. */
export function parseForwards(listing: string): Array<{ externalPort: number; to: string; port: number }> {
  return [...listing.matchAll(/dport (\d+) dnat ip to (\d+\.\d+\.\d+\.\d+):(\d+)/g)].map((m) => ({
    externalPort: Number(m[1]),
    to: m[2] ?? '',
    port: Number(m[3]),
  }));
}

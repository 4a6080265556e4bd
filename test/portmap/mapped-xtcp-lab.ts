/**
 * Two home sites behind random-symmetric NATs (`masquerade random,fully-random`)
 * and a rendezvous between them, in network namespaces; site A's router also
 * runs Debian's miniupnpd (NAT-PMP/PCP and UPnP IGD). Not a test itself: see
 * mapped-xtcp-kernel.test.ts.
 *
 *   lanA 192.168.77.2 ─ [routerA: miniupnpd] wan 11.0.0.1 ─ 11.0.0.2 [core: rendezvous] 12.0.0.2 ─ wan 12.0.0.1 [routerB] ─ lanB 192.168.78.2
 *
 * WAN addresses are non-reserved (miniupnpd refuses to forward on reserved
 * ones); they exist only inside the test's namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyNamespace, destroyNamespaceSync, registerLab, sweepStale, unregisterLab } from '../../netsim/kernel/cleanup.js';
import { run, sleep } from '../../netsim/kernel/exec.js';
import { newRunId, nsName } from '../../netsim/kernel/names.js';

export const PREFIX = 'bpx';
export const RENDEZVOUS_PORT = 7000;

const ROUTER_A_RULES = `table inet filter {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    iifname "lan0" accept
    ct state established,related accept
    ct status dnat accept
  }
  chain prerouting {
    type nat hook prerouting priority -101;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 99;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade random,fully-random
  }
}
`;

const ROUTER_B_RULES = `table inet nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" masquerade random,fully-random
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan0" accept
  }
}
`;

/** A process in a namespace, its JSON log lines (stderr) kept. */
export class LabProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  private buffer = '';
  readonly exited: Promise<number | null>;

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.buffer += c;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.startsWith('{') && this.lines.length < 50_000) {
          try {
            this.lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not ours
          }
        }
      }
    });
    child.stdout!.resume();
    this.exited = new Promise((r) => child.on('close', (code) => r(code)));
  }

  events(event: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['event'] === event);
  }

  async waitFor(event: string, ms: number, pred: (l: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.events(event).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${event} within ${ms} ms; its log: ${JSON.stringify(this.lines.slice(-40))}`);
      await sleep(50);
    }
  }

  /** SIGTERM (the CLI's shutdown path), SIGKILL after `ms`. */
  async stop(ms = 8000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(ms).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      return null;
    }
    return code;
  }
}

export class MappedXtcpLab {
  readonly runId = newRunId();
  readonly core = nsName(PREFIX, this.runId, 'core');
  readonly routerA = nsName(PREFIX, this.runId, 'rta');
  readonly routerB = nsName(PREFIX, this.runId, 'rtb');
  readonly lanA = nsName(PREFIX, this.runId, 'lana');
  readonly lanB = nsName(PREFIX, this.runId, 'lanb');
  private readonly dir = mkdtempSync(join(tmpdir(), 'burrow-mapped-xtcp-'));
  private readonly children = new Set<ChildProcess>();
  private daemonLog = '';
  private closed = false;

  private get namespaces(): string[] {
    return [this.lanA, this.lanB, this.routerA, this.routerB, this.core];
  }

  static async create(): Promise<MappedXtcpLab> {
    await sweepStale(PREFIX);
    const lab = new MappedXtcpLab();
    registerLab(lab);
    try {
      await lab.build();
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  private async build(): Promise<void> {
    const ip = (args: string[]) => run('ip', args, { timeoutMs: 10_000 });
    const sh = (ns: string, cmd: string, args: string[], input?: string) => run('ip', ['netns', 'exec', ns, cmd, ...args], input === undefined ? {} : { input });
    for (const ns of this.namespaces) {
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const links: Array<[string, string, string, string, string, string]> = [
      // ns, dev, address, peer ns, peer dev, peer address
      [this.routerA, 'wan0', '11.0.0.1/24', this.core, 'ca0', '11.0.0.2/24'],
      [this.routerB, 'wan0', '12.0.0.1/24', this.core, 'cb0', '12.0.0.2/24'],
      [this.routerA, 'lan0', '192.168.77.1/24', this.lanA, 'eth0', '192.168.77.2/24'],
      [this.routerB, 'lan0', '192.168.78.1/24', this.lanB, 'eth0', '192.168.78.2/24'],
    ];
    for (const [ns, dev, addr, pns, pdev, paddr] of links) {
      await ip(['link', 'add', 'name', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', pdev, 'netns', pns]);
      await ip(['-n', ns, 'addr', 'add', addr, 'dev', dev]);
      await ip(['-n', pns, 'addr', 'add', paddr, 'dev', pdev]);
      await ip(['-n', ns, 'link', 'set', dev, 'up']);
      await ip(['-n', pns, 'link', 'set', pdev, 'up']);
    }
    await ip(['-n', this.routerA, 'route', 'add', 'default', 'via', '11.0.0.2']);
    await ip(['-n', this.routerB, 'route', 'add', 'default', 'via', '12.0.0.2']);
    await ip(['-n', this.lanA, 'route', 'add', 'default', 'via', '192.168.77.1']);
    await ip(['-n', this.lanB, 'route', 'add', 'default', 'via', '192.168.78.1']);
    for (const ns of [this.core, this.routerA, this.routerB]) await sh(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await sh(this.routerA, 'nft', ['-f', '-'], ROUTER_A_RULES);
    await sh(this.routerB, 'nft', ['-f', '-'], ROUTER_B_RULES);
    writeFileSync(
      join(this.dir, 'miniupnpd.conf'),
      [
        'ext_ifname=wan0',
        'listening_ip=lan0',
        'enable_natpmp=yes',
        'enable_upnp=yes',
        'secure_mode=yes',
        'system_uptime=no',
        'uuid=5a1c2a5e-6b7d-4e8f-9a0b-1c2d3e4f5a6c',
        'allow 1024-65535 192.168.77.0/24 1024-65535',
        'deny 0-65535 0.0.0.0/0 0-65535',
        '',
      ].join('\n'),
    );
    const d = this.spawnIn(this.routerA, 'miniupnpd', ['-f', join(this.dir, 'miniupnpd.conf'), '-d', '-P', join(this.dir, 'miniupnpd.pid')]);
    const keep = (c: string) => (this.daemonLog = (this.daemonLog + c).slice(-20_000));
    d.stdout!.setEncoding('utf8').on('data', keep);
    d.stderr!.setEncoding('utf8').on('data', keep);
    const deadline = Date.now() + 10_000;
    while (!/Listening for NAT-PMP/.test(this.daemonLog)) {
      if (Date.now() > deadline || d.exitCode !== null) throw new Error(`miniupnpd did not start: ${this.daemonLog.slice(-1000)}`);
      await sleep(50);
    }
  }

  get routerLog(): string {
    return this.daemonLog;
  }

  /** Runs the burrow CLI in `ns`, JSON logs at debug level. */
  burrow(name: string, ns: string, args: string[]): LabProcess {
    const bin = new URL('../../bin/burrow.js', import.meta.url).pathname;
    return new LabProcess(name, this.spawnIn(ns, process.execPath, [bin, ...args, '--log-format', 'json', '--log-level', 'debug']));
  }

  /** A TCP echo server in `ns` on 127.0.0.1:port (the provided service). */
  echoServer(ns: string, port: number): LabProcess {
    const src = `require('net').createServer((s) => s.pipe(s)).listen(${port}, '127.0.0.1', () => process.stderr.write(JSON.stringify({ event: 'listening' }) + '\\n'))`;
    return new LabProcess('echo', this.spawnIn(ns, process.execPath, ['-e', src]));
  }

  /** The router's port forwards as miniupnpd wrote them. */
  async forwards(): Promise<Array<{ externalPort: number; to: string; port: number }>> {
    const r = await run('ip', ['netns', 'exec', this.routerA, 'nft', 'list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd']);
    return [...r.stdout.matchAll(/dport (\d+) dnat ip to (\d+\.\d+\.\d+\.\d+):(\d+)/g)].map((m) => ({ externalPort: Number(m[1]), to: m[2]!, port: Number(m[3]) }));
  }

  /** What `upnpc -l` (run in site A's LAN) lists as UDP mappings: external port → internal ip:port. */
  async upnpcList(): Promise<string> {
    const r = await run('ip', ['netns', 'exec', this.lanA, 'upnpc', '-l'], { timeoutMs: 20_000 }).catch((e: unknown) => ({ stdout: String(e) }));
    return r.stdout;
  }

  private spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const ns of this.namespaces) await destroyNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
    unregisterLab(this);
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const ns of this.namespaces) destroyNamespaceSync(ns);
    rmSync(this.dir, { recursive: true, force: true });
    unregisterLab(this);
  }
}

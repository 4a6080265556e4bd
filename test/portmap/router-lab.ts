/**
 * A small lab for the port-mapping kernel test (not a test itself): a router
 * namespace running Debian's miniupnpd (nftables backend) between a LAN host
 * and an outside host. Built on netsim/kernel's helpers for commands, names
 * and teardown (a crashed run is swept by its run id like the other labs).
 *
 *   outside 11.0.0.2 ── wan0 11.0.0.1 [router: miniupnpd] lan0 192.168.77.1 ── lan 192.168.77.2
 *
 * The WAN address is chosen per lab; a reserved one (100.64.0.1) makes
 * miniupnpd refuse forwarding, like a router behind a carrier NAT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { destroyNamespace, destroyNamespaceSync, registerLab, sweepStale, unregisterLab } from '../../netsim/kernel/cleanup.js';
import { run, sleep } from '../../netsim/kernel/exec.js';
import { Miniupnpd, childDaemon, miniupnpdRuleset } from '../../netsim/kernel/miniupnpd.js';
import { newRunId, nsName } from '../../netsim/kernel/names.js';
import { PROBE_SOURCE, lastJson, type UdpDatagram } from '../../netsim/kernel/probe.js';

export const PREFIX = 'bpm';
export const ROUTER_LAN = '192.168.77.1';
export const LAN_HOST = '192.168.77.2';
const CHILD = fileURLToPath(new URL('./mapper-child.js', import.meta.url));

/** Why the kernel test cannot run here, or undefined. */
export function routerLabSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root (network namespaces, nftables); run as root, e.g. sudo node --test dist/test/portmap/portmap-kernel.test.js';
  }
  for (const [cmd, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
    ['miniupnpd', ['--version'], 'miniupnpd-nftables'],
  ] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore', timeout: 5000 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `needs ${cmd}: apt-get install ${pkg}`;
    }
  }
  return undefined;
}

export interface RouterConfig {
  wanAddress: string;
  natpmp: boolean;
  upnp: boolean;
}

/**
 * The router's nftables (netsim/kernel/miniupnpd.ts): the chains miniupnpd
 * fills and a forward filter that lets mapped (DNAT'ed) traffic in;
 * `masquerade` is the ordinary source NAT (e.g. `masquerade random,fully-random`).
 */
export function miniupnpdRules(masquerade = 'masquerade'): string {
  return miniupnpdRuleset({ table: 'filter', wan: 'wan0', lan: 'lan0', masquerade });
}

/** A running mapper-child: its JSON lines, and a way to ask it to close. */
export class MapperChild {
  readonly lines: Array<Record<string, unknown>> = [];
  private buffer = '';
  /** The tail of the child's log (the mapper logs at debug level to stderr). */
  stderr = '';
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      this.buffer += c;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.startsWith('{') && this.lines.length < 10_000) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-4000)));
    child.stdin!.on('error', () => {});
    this.exited = new Promise((r) => child.on('close', () => r()));
  }

  events(type: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.type === type);
  }

  /** Resolves to the first line (from index `from` on) that `pred` accepts; rejects after `ms`. */
  async waitFor(pred: (l: Record<string, unknown>) => boolean, ms: number, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms} ms; child printed ${JSON.stringify(this.lines)}; its log ends: ${this.stderr.slice(-1500)}`);
      }
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    this.child.stdin!.end('close\n');
    await Promise.race([this.exited, sleep(10_000)]);
  }
}

export class RouterLab {
  readonly runId = newRunId();
  readonly router = nsName(PREFIX, this.runId, 'router');
  readonly lan = nsName(PREFIX, this.runId, 'lan');
  readonly outside = nsName(PREFIX, this.runId, 'outside');
  private readonly dir = mkdtempSync(join(tmpdir(), 'burrow-portmap-'));
  private readonly children = new Set<ChildProcess>();
  private daemon: Miniupnpd | null = null;
  private closed = false;

  private constructor(readonly config: RouterConfig) {}

  static async create(config: RouterConfig): Promise<RouterLab> {
    await sweepStale(PREFIX);
    const lab = new RouterLab(config);
    registerLab(lab);
    try {
      await lab.build();
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  get outsideAddress(): string {
    const parts = this.config.wanAddress.split('.');
    parts[3] = '2';
    return parts.join('.');
  }

  private async build(): Promise<void> {
    const ip = (args: string[]) => run('ip', args, { timeoutMs: 10_000 });
    for (const ns of [this.router, this.lan, this.outside]) {
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Created straight inside their namespaces, so the short names cannot clash with another run's.
    await ip(['link', 'add', 'name', 'wan0', 'netns', this.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.outside]);
    await ip(['link', 'add', 'name', 'lan0', 'netns', this.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.lan]);
    await ip(['-n', this.router, 'addr', 'add', `${this.config.wanAddress}/24`, 'dev', 'wan0']);
    await ip(['-n', this.router, 'addr', 'add', `${ROUTER_LAN}/24`, 'dev', 'lan0']);
    await ip(['-n', this.outside, 'addr', 'add', `${this.outsideAddress}/24`, 'dev', 'eth0']);
    await ip(['-n', this.lan, 'addr', 'add', `${LAN_HOST}/24`, 'dev', 'eth0']);
    for (const [ns, dev] of [[this.router, 'wan0'], [this.router, 'lan0'], [this.outside, 'eth0'], [this.lan, 'eth0']] as const) {
      await ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    await ip(['-n', this.lan, 'route', 'add', 'default', 'via', ROUTER_LAN]);
    await run('ip', ['netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await run('ip', ['netns', 'exec', this.router, 'nft', '-f', '-'], { input: miniupnpdRules() });
    this.daemon = new Miniupnpd(
      this.router,
      this.dir,
      { natpmp: this.config.natpmp, upnp: this.config.upnp, lan: '192.168.77.0/24', uuid: '3f1c2a5e-6b7d-4e8f-9a0b-1c2d3e4f5a6b' },
      (ns, cmd, args) => childDaemon(this.spawnIn(ns, cmd, args)),
    );
    await this.daemon.start();
  }

  private get daemonOf(): Miniupnpd {
    if (this.daemon === null) throw new Error('the router lab is not built');
    return this.daemon;
  }

  /** How long the current miniupnpd has run (its epoch, roughly). */
  get daemonUptimeMs(): number {
    return this.daemonOf.uptimeMs;
  }

  /** A router restart that loses the table: stop miniupnpd, flush its chains, start it again. */
  restartDaemon(): Promise<void> {
    return this.daemonOf.restart({ signal: 'SIGTERM' });
  }

  /** The router's port forwards as miniupnpd wrote them: external port → LAN ip:port. */
  forwards(): Promise<Array<{ externalPort: number; to: string; port: number }>> {
    return this.daemonOf.forwards();
  }

  /** Sends `count` datagrams from the outside host to WAN:port; returns the replies. */
  async sendFromOutside(port: number, count = 3): Promise<UdpDatagram[]> {
    const r = await run(
      'ip',
      ['netns', 'exec', this.outside, process.execPath, '-e', PROBE_SOURCE, 'udp-send', '0', this.config.wanAddress, String(port), String(count), '50', '500'],
      { timeoutMs: 15_000 },
    );
    return lastJson<{ replies: UdpDatagram[] }>(r.stdout).replies;
  }

  /** Starts a PortMapper in the LAN host for a fresh UDP socket. */
  startMapper(protocols: string, lifetimeSeconds = 60, maxRefreshMs = 2000): MapperChild {
    return new MapperChild(
      this.spawnIn(this.lan, process.execPath, [CHILD, ROUTER_LAN, protocols, String(lifetimeSeconds), String(maxRefreshMs)]),
    );
  }

  get log(): string {
    return this.daemon?.log ?? '';
  }

  /** Starts a long-running process in one of the lab's hosts (killed at close). */
  startIn(host: 'lan' | 'outside', cmd: string, args: string[]): ChildProcess {
    return this.spawnIn(host === 'lan' ? this.lan : this.outside, cmd, args);
  }

  /** Runs a command to its end in one of the lab's hosts; resolves whatever its exit status. */
  runIn(host: 'lan' | 'outside', cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const ns = host === 'lan' ? this.lan : this.outside;
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { timeoutMs, allowFail: true });
  }

  private spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const ns of [this.lan, this.outside, this.router]) await destroyNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
    unregisterLab(this);
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const ns of [this.lan, this.outside, this.router]) destroyNamespaceSync(ns);
    rmSync(this.dir, { recursive: true, force: true });
    unregisterLab(this);
  }
}

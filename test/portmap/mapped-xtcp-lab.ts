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
 *
 * With `carrierNat`, router A's WAN is 100.64.0.1/10 behind a carrier NAT
 * namespace that holds 11.0.0.1 instead (miniupnpd then refuses to map):
 *
 *   lanA ─ [routerA: miniupnpd] wan 100.64.0.1 ─ 100.64.0.2 [cgn] 11.0.0.1 ─ 11.0.0.2 [core] …
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyNamespace, destroyNamespaceSync, registerLab, sweepStale, unregisterLab } from '../../netsim/kernel/cleanup.js';
import { run, sleep } from '../../netsim/kernel/exec.js';
import { newRunId, nsName } from '../../netsim/kernel/names.js';
import { Miniupnpd, childDaemon } from '../../netsim/kernel/miniupnpd.js';
import { miniupnpdRules } from './router-lab.js';

export const PREFIX = 'bpx';
export const RENDEZVOUS_PORT = 7000;
const TOKEN = 'mapped-xtcp-token';
const SECRET = 'mapped-xtcp-secret';
const ECHO_PORT = 9100;
export const VISIT_PORT = 9200;


/** The carrier NAT: any inside address leaves as 11.0.0.1. */
const CARRIER_RULES = `table inet nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "up0" masquerade
  }
}
`;

export interface MappedXtcpLabOptions {
  /** Router A's WAN in shared address space (100.64.0.1/10) behind a carrier NAT. */
  carrierNat?: boolean;
  /** miniupnpd's NAT-PMP and PCP (one switch in 2.3.1); default on. Off: UPnP IGD only. */
  natpmp?: boolean;
}

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
  readonly carrier = nsName(PREFIX, this.runId, 'cgn');
  private readonly dir = mkdtempSync(join(tmpdir(), 'burrow-mapped-xtcp-'));
  private readonly children = new Set<ChildProcess>();
  private daemon: Miniupnpd | null = null;
  private closed = false;

  private constructor(private readonly opts: MappedXtcpLabOptions) {}

  private get namespaces(): string[] {
    return [this.lanA, this.lanB, this.routerA, this.routerB, ...(this.opts.carrierNat === true ? [this.carrier] : []), this.core];
  }

  static async create(opts: MappedXtcpLabOptions = {}): Promise<MappedXtcpLab> {
    await sweepStale(PREFIX);
    const lab = new MappedXtcpLab(opts);
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
    const carrier = this.opts.carrierNat === true;
    type Link = readonly [string, string, string, string, string, string];
    const wan: Link[] = carrier
      ? [
          [this.routerA, 'wan0', '100.64.0.1/10', this.carrier, 'cg0', '100.64.0.2/10'],
          [this.carrier, 'up0', '11.0.0.1/24', this.core, 'ca0', '11.0.0.2/24'],
        ]
      : [[this.routerA, 'wan0', '11.0.0.1/24', this.core, 'ca0', '11.0.0.2/24']];
    const links: Link[] = [
      // ns, dev, address, peer ns, peer dev, peer address
      ...wan,
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
    if (carrier) {
      await ip(['-n', this.routerA, 'route', 'add', 'default', 'via', '100.64.0.2']);
      await ip(['-n', this.carrier, 'route', 'add', 'default', 'via', '11.0.0.2']);
      await sh(this.carrier, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await sh(this.carrier, 'nft', ['-f', '-'], CARRIER_RULES);
    } else {
      await ip(['-n', this.routerA, 'route', 'add', 'default', 'via', '11.0.0.2']);
    }
    await ip(['-n', this.routerB, 'route', 'add', 'default', 'via', '12.0.0.2']);
    await ip(['-n', this.lanA, 'route', 'add', 'default', 'via', '192.168.77.1']);
    await ip(['-n', this.lanB, 'route', 'add', 'default', 'via', '192.168.78.1']);
    for (const ns of [this.core, this.routerA, this.routerB]) await sh(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await sh(this.routerA, 'nft', ['-f', '-'], miniupnpdRules('masquerade random,fully-random'));
    await sh(this.routerB, 'nft', ['-f', '-'], ROUTER_B_RULES);
    this.daemon = new Miniupnpd(
      this.routerA,
      this.dir,
      { natpmp: this.opts.natpmp !== false, upnp: true, lan: '192.168.77.0/24', uuid: '5a1c2a5e-6b7d-4e8f-9a0b-1c2d3e4f5a6c' },
      (ns, cmd, args) => childDaemon(this.spawnIn(ns, cmd, args)),
    );
    await this.daemon.start();
  }

  /**
   * miniupnpd restarted with its table lost: killed (no chance to clean up),
   * its chains flushed, started again; `dropUdpFlows` as in Miniupnpd.restart.
   */
  async restartDaemon(opts: { dropUdpFlows: boolean }): Promise<void> {
    if (this.daemon === null) throw new Error('the lab is not built');
    await this.daemon.restart({ signal: 'SIGKILL', dropUdpFlows: opts.dropUdpFlows });
  }

  get routerLog(): string {
    return this.daemon?.log ?? '';
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

  /** A node script in `ns` (its JSON stderr lines kept, like the CLI's). */
  nodeScript(name: string, ns: string, src: string): LabProcess {
    return new LabProcess(name, this.spawnIn(ns, process.execPath, ['-e', src]));
  }

  /** The router's port forwards as miniupnpd wrote them. */
  forwards(): Promise<Array<{ externalPort: number; to: string; port: number }>> {
    if (this.daemon === null) throw new Error('the lab is not built');
    return this.daemon.forwards();
  }

  /** What `upnpc -l` (run in site A's LAN) lists as UDP mappings: external port → internal ip:port. */
  async upnpcList(): Promise<string> {
    const r = await run('ip', ['netns', 'exec', this.lanA, 'upnpc', '-l'], { timeoutMs: 20_000 }).catch((e: unknown) => ({ stdout: String(e) }));
    return r.stdout;
  }

  private spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    // BURROW_PORTMAP explicitly on: the peers here must ask the lab's router (a harness may have set it off).
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BURROW_PORTMAP: 'on' } });
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

/** A round trip through the visitor's listener (run inside site B's namespace). */
export async function echoThroughTunnel(lab: MappedXtcpLab, text: string): Promise<string> {
  const src = `const s = require('net').connect(${VISIT_PORT}, '127.0.0.1', () => s.write(${JSON.stringify(text)})); let got = ''; s.on('data', (d) => { got += d; if (got.length >= ${text.length}) { process.stdout.write(got, () => process.exit(0)); } }); setTimeout(() => process.exit(2), 8000);`;
  const r = await run('ip', ['netns', 'exec', lab.lanB, process.execPath, '-e', src], { timeoutMs: 15_000 });
  return r.stdout;
}

/** Rendezvous in the core, an echo service and `provide` in site A, `visit` in site B; resolves once the session is up. */
export async function startPair(lab: MappedXtcpLab, extra: string[]): Promise<{ rendezvous: LabProcess; provider: LabProcess; visitor: LabProcess }> {
  const rendezvous = lab.burrow('rendezvous', lab.core, ['rendezvous', '--listen', `0.0.0.0:${RENDEZVOUS_PORT}`, '--token', TOKEN]);
  await rendezvous.waitFor('listening', 10_000);
  const echo = lab.echoServer(lab.lanA, ECHO_PORT);
  await echo.waitFor('listening', 10_000);
  const common = ['--token', TOKEN, '--name', 'svc', '--secret', SECRET, ...extra];
  const provider = lab.burrow('provider', lab.lanA, ['provide', '--server', `11.0.0.2:${RENDEZVOUS_PORT}`, '--to', `127.0.0.1:${ECHO_PORT}`, ...common]);
  await provider.waitFor('registered', 10_000);
  const visitor = lab.burrow('visitor', lab.lanB, ['visit', '--server', `12.0.0.2:${RENDEZVOUS_PORT}`, '--listen', `127.0.0.1:${VISIT_PORT}`, ...common]);
  await visitor.waitFor('session-up', 15_000);
  return { rendezvous, provider, visitor };
}

/**
 * A paced echo transfer through the visitor's listener, run in site B: sends
 * `bytes` of a fixed pseudo-random stream (xorshift32, seed 1) in 16 KiB
 * chunks every `paceMs`, and compares the SHA-256 of what came back with the
 * SHA-256 of what went out. JSON lines on stderr: `transfer-progress`
 * (bytes back so far, about every 256 KiB) and `transfer-done`
 * { ok, sent, received, sentSha256, receivedSha256, ms }.
 */
export function echoTransfer(lab: MappedXtcpLab, bytes: number, paceMs: number, timeoutMs: number): LabProcess {
  const src = `
const crypto = require('crypto');
const log = (o) => process.stderr.write(JSON.stringify(o) + '\\n');
const total = ${bytes}, CHUNK = 16384;
let x = 1;
const next = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; } return b; };
const hSent = crypto.createHash('sha256'), hGot = crypto.createHash('sha256');
let sent = 0, got = 0, lastReport = 0; const t0 = Date.now();
const s = require('net').connect(${VISIT_PORT}, '127.0.0.1');
s.on('data', (d) => {
  hGot.update(d); got += d.length;
  if (got - lastReport >= 262144) { lastReport = got; log({ event: 'transfer-progress', received: got, sent }); }
  if (got >= total) {
    const a = hSent.digest('hex'), b = hGot.digest('hex');
    log({ event: 'transfer-done', ok: a === b && got === total, sent, received: got, sentSha256: a, receivedSha256: b, ms: Date.now() - t0 });
    process.exit(0);
  }
});
s.on('error', (e) => { log({ event: 'transfer-done', ok: false, error: String(e), sent, received: got }); process.exit(1); });
const pump = () => { if (sent >= total) return; const n = Math.min(CHUNK, total - sent); const b = next(n); hSent.update(b); sent += n; s.write(b); setTimeout(pump, ${paceMs}); };
s.on('connect', pump);
setTimeout(() => { log({ event: 'transfer-done', ok: false, error: 'timeout', sent, received: got }); process.exit(2); }, ${timeoutMs});
`;
  return lab.nodeScript('transfer', lab.lanB, src);
}

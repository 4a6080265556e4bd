/**
 * The relay (stcp) matrix on the kernel lane: for each ordered pair of NAT
 * profiles (provider side A, visitor side B), the real `burrow` CLI runs inside
 * the lab's namespaces and 16 MiB cross the tunnel each way, byte-exact.
 *
 *   server namespace       burrow rendezvous --listen 198.51.100.2:7000   (one for the whole run)
 *   site A, host 0         traffic target 127.0.0.1:9000                  (one per provider site)
 *                          burrow provide --name <pair> --to 127.0.0.1:9000   (one per pair)
 *   site B, host 0         burrow visit --name <pair> --listen 127.0.0.1:<port>  (one per pair)
 *                          traffic client 127.0.0.1:<port>                (one per pair)
 *
 * Every site is built (and classified by `stun`) once per run. A pair of one
 * profile with itself uses a second site of that profile, so the path crosses
 * two NATs of that kind. Every wait is bounded; the lab is always closed.
 */
import { at } from '../../../src/util/at.js';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Lab, LabClosedError, type LabNode, type LabProcess, type NatSite } from '../lab.js';
import { listNamespaces } from '../cleanup.js';
import { sleep } from '../exec.js';
import { BURROW_ENTRY, events, loaderArgs, waitEvent, waitExit } from '../cli-process.js';
import { PROFILE_NAMES, getProfile, type ProfileName } from '../profiles.js';
import { cellAsExpected, cellExpectation, expectedFor, viaAsExpected, type MatrixMode, type MeasuredVia } from '../../matrix/expected.js';
import type { PortmapChoice } from '../portmap-site.js';
import { allPairs, inOrder, type KernelMatrixRun, type KernelPairResult, type PairMeasure, type SiteInfo } from '../../matrix/result.js';
import type { ClientReport } from './traffic.js';

export { allPairs };
export type { MatrixMode };

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const TRAFFIC_ENTRY = fileURLToPath(new URL(`./traffic${EXT}`, import.meta.url));
export { BURROW_ENTRY };

export const MIB = 1024 * 1024;
export const DEFAULT_SIZE = 16 * MIB;
const RV_PORT = 7000;
const TARGET_PORT = 9000;
const VISIT_PORT_BASE = 20_000;

export interface MatrixOptions {
  /** Default stcp (the relay column). */
  mode?: MatrixMode;
  /** The ordered pairs to run: [provider-side, visitor-side]. */
  pairs: ReadonlyArray<readonly [ProfileName, ProfileName]>;
  sizeBytes?: number;
  /** Bound on one pair's transfer (client connect → verified). Default 90 s. */
  transferTimeoutMs?: number;
  /** Progress lines. */
  log?: (msg: string) => void;
  /** Called after each pair. */
  onPair?: (r: KernelPairResult, done: number, total: number) => void;
  /** Sites built at once (each is classified by stun). Default 4. */
  buildConcurrency?: number;
  /** Lab namespace prefix (default "bnk"). */
  prefix?: string;
  /**
   * A pair of a profile with itself puts both peers in one site (hosts 0 and 1
   * of a two-host profile: hairpin, no-hairpin) instead of two sites.
   */
  sameSite?: boolean;
  /** Which protocols the port-mapping sites' routers (upnp-router) answer: all three (default) or one alone. */
  portmap?: PortmapChoice;
}

/**
 * A representative subset: every profile at least once on each side, the
 * diagonal pairs of the hard cases, and both orders of the pairs that differ
 * most, and the port-mapping router against the two NATs it rescues
 * (random symmetric: relay without the mapping; port-restricted: birthday
 * probing). 18 pairs.
 */
export const REPRESENTATIVE_PAIRS: ReadonlyArray<readonly [ProfileName, ProfileName]> = [
  ['full-cone', 'symmetric-random'],
  ['symmetric-random', 'full-cone'],
  ['symmetric-random', 'symmetric-random'],
  ['udp-blocked', 'udp-blocked'],
  ['udp-blocked', 'port-restricted-cone'],
  ['port-restricted-cone', 'udp-blocked'],
  ['restricted-cone', 'double-nat'],
  ['double-nat', 'lossy-core'],
  ['lossy-core', 'short-lifetime'],
  ['short-lifetime', 'hairpin'],
  ['hairpin', 'no-hairpin'],
  ['no-hairpin', 'restricted-cone'],
  ['port-restricted-cone', 'port-restricted-cone'],
  ['double-nat', 'double-nat'],
  ['lossy-core', 'lossy-core'],
  ['short-lifetime', 'full-cone'],
  ['upnp-router', 'symmetric-random'],
  ['port-restricted-cone', 'upnp-router'],
];

function uniq<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

/** Runs fn over items with at most `limit` at a time, results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(at(items, i));
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

function lastJsonLine<T>(text: string): T | undefined {
  const lines = text.trim().split('\n').filter((l) => l.startsWith('{'));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  try {
    return JSON.parse(last) as T;
  } catch {
    return undefined;
  }
}

/**
 * Builds the sites the pairs need (each once), one rendezvous and one target
 * per provider site, runs the pairs one after another, and tears everything
 * down. Throws only if the lab cannot be built (e.g. a NAT does not classify
 * as claimed); a failing pair is a result, not an exception.
 */
export async function runKernelMatrix(opts: MatrixOptions): Promise<KernelMatrixRun> {
  const t0 = Date.now();
  const size = opts.sizeBytes ?? DEFAULT_SIZE;
  const log = opts.log ?? (() => {});
  const transferTimeoutMs = opts.transferTimeoutMs ?? 90_000;
  if (opts.pairs.length === 0) throw new Error('no pairs to run');
  if (opts.pairs.length > 10_000) throw new Error('too many pairs (at most 10000)');
  const profileOrder = PROFILE_NAMES;
  const rows = inOrder(opts.pairs.map((p) => p[0]), profileOrder);
  const cols = inOrder(opts.pairs.map((p) => p[1]), profileOrder);

  // Sites: one per profile used, plus a second one for each profile paired with itself.
  const primaryNeeded = inOrder(uniq(opts.pairs.flat()), profileOrder);
  const secondNeeded = opts.sameSite ? [] : inOrder(uniq(opts.pairs.filter(([a, b]) => a === b).map(([a]) => a)), profileOrder);

  const lab = await Lab.create({ ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}), log: (m) => log(`lab: ${m}`) });
  const runId = lab.runId;
  const results: KernelPairResult[] = [];
  const sites: SiteInfo[] = [];
  let buildMs = 0;
  let leftNamespaces: string[] = [];
  const pids: number[] = [];
  const spawn = (node: LabNode, args: string[], env?: Record<string, string>): LabProcess => {
    const p = lab.spawn(node, process.execPath, [...loaderArgs(), ...args], env ? { env } : {});
    if (p.pid) pids.push(p.pid);
    return p;
  };
  if (lab.stund.pid) pids.push(lab.stund.pid);
  try {
    const primary = new Map<ProfileName, NatSite>();
    const second = new Map<ProfileName, NatSite>();
    // Sites are independent (own namespaces, interface names scoped to them): build a few at once.
    const wanted = [...primaryNeeded.map((n) => [n, primary] as const), ...secondNeeded.map((n) => [n, second] as const)];
    await mapLimit(wanted, opts.buildConcurrency ?? 4, async ([name, into]) => {
      const s0 = Date.now();
      const site = await lab.addSite(name, opts.portmap !== undefined && getProfile(name).portMapping ? { portmap: opts.portmap } : {});
      into.set(name, site);
      const ms = Date.now() - s0;
      sites.push({ index: site.index, profile: name, publicIp: site.publicIp, stun: site.verdict?.primary ?? null, buildMs: ms });
      log(`site ${site.index} ${name}: built and classified in ${ms} ms (stun: ${site.verdict?.primary ?? '?'})`);
    });
    sites.sort((x, y) => x.index - y.index);

    const token = randomBytes(16).toString('hex');
    const server = `${lab.server.ip}:${RV_PORT}`;
    const mode = opts.mode ?? 'stcp';
    // The server has two addresses: the rendezvous's STUN ports answer RFC 5780 change requests.
    const rv = spawn(lab.server, [BURROW_ENTRY, 'rendezvous', '--listen', server, '--alt-address', lab.server.ip2, '--token', token, '--log-format', 'json']);
    await waitEvent(rv, 'rendezvous', 'listening', 15_000);

    const seed = randomBytes(8).toString('hex');
    const targetSeed = (site: NatSite): string => `${seed}:down:site${site.index}`;
    const providerSites = uniq(opts.pairs.map(([a]) => primary.get(a)!));
    await Promise.all(
      providerSites.map(async (site) => {
        const t = spawn(at(site.hosts, 0), [TRAFFIC_ENTRY, 'target', '127.0.0.1', String(TARGET_PORT), String(size), targetSeed(site)]);
        await t.waitFor(/"ready":true/, 15_000);
      }),
    );
    buildMs = Date.now() - t0;
    log(`lab ${runId}: ${sites.length} sites, rendezvous and ${providerSites.length} targets up in ${buildMs} ms`);

    let i = 0;
    for (const [a, b] of opts.pairs) {
      // Closed under us (SIGINT/SIGTERM: the lab's handlers tear it down): stop, do not report 100 failures.
      if (lab.closed) throw new LabClosedError(runId);
      const pa = primary.get(a)!;
      const shared = a === b && opts.sameSite === true;
      if (shared && pa.hosts.length < 2) throw new Error(`sameSite: ${a} has one host; pick a two-host profile (hairpin, no-hairpin)`);
      const pb = a === b ? (shared ? pa : second.get(b)!) : primary.get(b)!;
      const service = `m${i}-${a}--${b}`.slice(0, 63);
      const r = await runPair(spawn, {
        server,
        token,
        service,
        providerHost: at(pa.hosts, 0),
        visitorHost: shared ? at(pb.hosts, 1) : at(pb.hosts, 0),
        providerMaps: pa.portmap !== undefined,
        visitorMaps: pb.portmap !== undefined,
        visitPort: VISIT_PORT_BASE + i,
        size,
        upSeed: `${seed}:up:pair${i}`,
        downSeed: targetSeed(pa),
        transferTimeoutMs,
        mode,
      });
      const expected = cellExpectation(mode, a, b);
      const expectedVia = mode === 'xtcp' ? expectedFor(a, b).via : undefined;
      const asExpected =
        cellAsExpected(expected, r.outcome, r.upVerified && r.downVerified) && (expectedVia === undefined || viaAsExpected(expectedVia, r.outcome, r.via));
      // The peers are gone: a port-mapping router should hold none of their mappings any more.
      let forwardsLeft: number | undefined;
      for (const site of new Set([pa, pb])) {
        if (site.portmap !== undefined) forwardsLeft = (forwardsLeft ?? 0) + (await site.portmap.daemon.forwards()).length;
      }
      const res: KernelPairResult = {
        provider: a,
        visitor: b,
        providerSite: pa.index,
        visitorSite: pb.index,
        service,
        ...r,
        expected,
        ...(expectedVia !== undefined ? { expectedVia } : {}),
        ...(forwardsLeft !== undefined ? { forwardsLeft } : {}),
        asExpected,
      };
      results.push(res);
      i++;
      opts.onPair?.(res, i, opts.pairs.length);
    }
  } finally {
    const left = await lab.close();
    const still = (await listNamespaces().catch(() => [] as string[])).filter((n) => n.includes(`-${runId}-`));
    leftNamespaces = uniq([...left, ...still]);
  }
  return { lane: 'kernel', mode: opts.mode ?? 'stcp', runId, sizeBytes: size, rows, cols, sites, results, buildMs, totalMs: Date.now() - t0, leftNamespaces, pids };
}

interface PairSpec {
  server: string;
  token: string;
  service: string;
  providerHost: LabNode;
  visitorHost: LabNode;
  /** Whether the peer's site router maps ports (its peer then runs with BURROW_PORTMAP=on). */
  providerMaps: boolean;
  visitorMaps: boolean;
  visitPort: number;
  size: number;
  upSeed: string;
  downSeed: string;
  transferTimeoutMs: number;
  mode: MatrixMode;
}


/** Starts `node [loader] args…` in a lab node (with extra environment variables). */
type Spawner = (node: LabNode, args: string[], env?: Record<string, string>) => LabProcess;

/**
 * Peers behind a port-mapping router run with port mapping explicitly on
 * (a harness may have set BURROW_PORTMAP=off in our environment: the cell
 * would then say nothing about the router); the others inherit ours.
 */
function peerEnv(maps: boolean): Record<string, string> | undefined {
  return maps ? { BURROW_PORTMAP: 'on' } : undefined;
}

/** One line about what a peer's port mapping did: its first mapping, else its last `portmap` log event. */
function portmapSummary(role: string, p: LabProcess): string | undefined {
  const all = events(p).filter((x) => x.event === 'portmap');
  const e = all.find((x) => x.outcome === 'mapped') ?? all[all.length - 1];
  if (e === undefined) return undefined;
  const detail = e.outcome === 'mapped' ? `by ${String(e.protocol)} ${String(e.external)}` : String(e.reason ?? '');
  return `${role}: ${String(e.outcome)} ${detail}`.trim();
}

/** 'mapped' when either peer locked the other's router mapping (a `mapped` candidate), else 'punch'. */
function directVia(provider: LabProcess, visitor: LabProcess): MeasuredVia {
  const ups = [...events(provider), ...events(visitor)].filter((e) => e.event === 'direct-up');
  return ups.some((e) => e.candidate === 'mapped') ? 'mapped' : 'punch';
}

async function runPair(spawn: Spawner, s: PairSpec): Promise<PairMeasure> {
  const m: PairMeasure = {
    outcome: 'failed',
    path: null,
    directMs: null,
    setupMs: null,
    ttfbMs: null,
    totalMs: null,
    bytesUp: 0,
    bytesDown: 0,
    upVerified: false,
    downVerified: false,
  };
  const secret = randomBytes(16).toString('hex');
  const peer = ['--server', s.server, '--token', s.token, '--name', s.service, '--secret', secret, '--log-format', 'json', '--mode', s.mode];
  const started: LabProcess[] = [];
  const t0 = performance.now();
  try {
    const provider = spawn(s.providerHost, [BURROW_ENTRY, 'provide', ...peer, '--to', `127.0.0.1:${TARGET_PORT}`], peerEnv(s.providerMaps));
    started.push(provider);
    await waitEvent(provider, 'provider', 'registered', 20_000);
    const visitor = spawn(s.visitorHost, [BURROW_ENTRY, 'visit', ...peer, '--listen', `127.0.0.1:${s.visitPort}`], peerEnv(s.visitorMaps));
    started.push(visitor);
    const up = await waitEvent(visitor, 'visitor', 'session-up', 30_000);
    m.setupMs = performance.now() - t0;
    m.path = typeof up.path === 'string' ? up.path : null;
    if (s.mode === 'xtcp') {
      // Wait for the punch to settle (a failed attempt is retried with fresh
      // sockets; a hopeless plan is not), so the connection shows where the pair ends up.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const evs = events(visitor);
        const upEv = evs.find((e) => e.event === 'direct-up');
        const fails = evs.filter((e) => e.event === 'punch-failed');
        if (fails.length > 0) {
          const f = at(fails, fails.length - 1);
          m.punchFailure = `${String(f.reason ?? '')}${typeof f.timeline === 'string' ? f.timeline : ''}`;
          m.punchAttempts = fails.length;
        }
        if (upEv) {
          if (typeof upEv.sinceSessionMs === 'number') m.directMs = upEv.sinceSessionMs;
          break;
        }
        // A plan that cannot work ends the wait, unless a router mapping may still come: a mapping granted
        // after the first offer's grace is offered on the retry (peer/direct/attempt-portmap.ts).
        const final = s.providerMaps || s.visitorMaps ? /UDP is blocked/ : /no punch can meet|offers no direct path|UDP is blocked|offered none/;
        if (fails.some((e) => final.test(String(e.reason)))) break;
        if (Date.now() > deadline || !visitor.running) break;
        await sleep(20);
      }
    }

    const client = spawn(s.visitorHost, [
      TRAFFIC_ENTRY,
      'client',
      '127.0.0.1',
      String(s.visitPort),
      String(s.size),
      s.upSeed,
      s.downSeed,
      String(s.transferTimeoutMs),
    ]);
    started.push(client);
    if (!(await waitExit(client, s.transferTimeoutMs + 15_000))) throw new Error('the client did not finish in time');
    const rep = lastJsonLine<ClientReport>(client.stdout());
    if (!rep) throw new Error(`the client printed no report: ${client.stderr().slice(-300)}`);
    m.ttfbMs = rep.ttfbMs;
    m.totalMs = rep.totalMs;
    m.bytesUp = rep.upVerified ? rep.sentBytes : 0;
    m.bytesDown = rep.downVerified ? rep.receivedBytes : 0;
    m.upVerified = rep.upVerified;
    m.downVerified = rep.downVerified;
    const conn = events(visitor).find((e) => e.event === 'connection');
    if (conn && typeof conn.path === 'string') m.path = conn.path;
    if (!rep.ok) throw new Error(rep.error ?? 'verification failed');
    if (s.providerMaps || s.visitorMaps) {
      const said = [portmapSummary('provider', provider), portmapSummary('visitor', visitor)].filter((x) => x !== undefined);
      if (said.length > 0) m.portmap = said.join('; ');
    }
    if (m.path === 'relay') m.outcome = 'relay';
    else if (m.path?.startsWith('direct')) {
      m.outcome = 'direct';
      m.via = directVia(provider, visitor);
    } else throw new Error(`the visitor reported no path for the connection (${JSON.stringify(conn ?? null)})`);
  } catch (e) {
    m.outcome = 'failed';
    m.error = e instanceof Error ? e.message : String(e);
  } finally {
    await Promise.all(started.map((p) => p.stop(1000)));
  }
  return m;
}

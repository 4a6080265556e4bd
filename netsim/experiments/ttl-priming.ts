/**
 * Does TTL-2 priming beat the Linux conntrack clash when one side is 300 ms
 * late, and does it matter whether the late side is late to *probe* only or
 * to *prime* too? Measured on the kernel lane with plain node:dgram programs
 * (no burrow code), so the answer is about the kernel, not about burrow.
 *
 *   two hosts, each behind its own port-restricted-cone site (plain masquerade)
 *   server namespace: a UDP echo both register with first (as peers learn their mapping)
 *
 *   case a  both prime at t0 (3 × TTL 2); the early side probes at t0+20 ms, the late side at t0+300 ms
 *   case b  the early side primes at t0, probes at t0+20 ms; the late side primes at t0+300, probes at t0+320 ms
 *   case c  no priming; the early side probes at t0, the late side at t0+300 ms
 *   case d  no priming; both probe at t0 (the two processes still differ by well under a millisecond
 *           to a millisecond or so, far more than the ~0.1 ms NAT-to-NAT path)
 *
 * Probes: 10 every 50 ms per side. Success = both sides receive the other's
 * probes from the peer's original public endpoint (the one the echo server saw).
 * Before each run: `conntrack -F` in both NATs and fresh source ports. After
 * each run the NATs' conntrack tables are read to show the clash: an
 * UNREPLIED inbound entry (peer → own public port) and an outbound flow that
 * masquerade moved to another port.
 *
 * Run by hand (root): `node --import tsx netsim/experiments/ttl-priming.ts [--runs 10] [--json]`
 * or compiled: `node dist/netsim/experiments/ttl-priming.js`.
 */
import { at } from '../../src/util/at.js';
import { fileURLToPath } from 'node:url';
import { Lab, type LabNode, type NatSite } from '../kernel/lab.js';
import { kernelLabSkipReason } from '../kernel/prereq.js';
import { flushConntrack, formatEntry, listConntrack, type ConntrackEntry } from '../kernel/conntrack.js';
import { sleep } from '../kernel/exec.js';
import { PUNCH_PROBE_SOURCE } from './punch-probe.js';

export type CaseId = 'a' | 'b' | 'c' | 'd';

export interface SideTiming {
  /** Offset from t0 of the 3 TTL-2 primes, or null for none. */
  primeAtMs: number | null;
  /** Offset from t0 of the first probe. */
  probeAtMs: number;
}

export interface PrimingCase {
  id: CaseId;
  title: string;
  early: SideTiming;
  late: SideTiming;
}

export const SKEW_MS = 300;

export const CASES: readonly PrimingCase[] = [
  { id: 'a', title: 'both prime at t0, one probes 300 ms late', early: { primeAtMs: 0, probeAtMs: 20 }, late: { primeAtMs: 0, probeAtMs: SKEW_MS } },
  { id: 'b', title: 'one side primes and probes 300 ms late', early: { primeAtMs: 0, probeAtMs: 20 }, late: { primeAtMs: SKEW_MS, probeAtMs: SKEW_MS + 20 } },
  { id: 'c', title: 'no priming, 300 ms skew', early: { primeAtMs: null, probeAtMs: 0 }, late: { primeAtMs: null, probeAtMs: SKEW_MS } },
  { id: 'd', title: 'no priming, no skew', early: { primeAtMs: null, probeAtMs: 0 }, late: { primeAtMs: null, probeAtMs: 0 } },
];

const PRIMES = 3;
const PRIME_TTL = 2;
const PROBES = 10;
const PROBE_INTERVAL_MS = 50;
/** Time for both processes to start in their namespaces and register before t0. */
const LEAD_MS = 900;
const TAIL_MS = 400;
const ECHO_PORT = 3600;

export interface PrimingLab {
  lab: Lab;
  siteA: NatSite;
  siteB: NatSite;
}

interface ProbeReport {
  local: number;
  mapped: string | null;
  primesSent: number;
  probesSent: number;
  firstProbeAt: number | null;
  received: Array<{ from: string; port: number; data: string; at: number }>;
  late: Array<{ what: string; lagMs: number }>;
}

export interface SideOutcome {
  name: 'A' | 'B';
  role: 'early' | 'late';
  localPort: number;
  /** Public endpoint the echo server saw before punching. */
  mapped: string | null;
  /** Probes from the peer's original public endpoint. */
  fromOriginal: number;
  /** Anything else from the peer's address (another port = the peer's flow clashed). */
  fromOther: string[];
  /** Actions that ran more than 5 ms after their time (the run's timing is then not what the case says). */
  late: string[];
  /** This side's NAT: an UNREPLIED entry peer → own public port (the peer's probe arrived first). */
  inboundUnreplied: boolean;
  /** This side's NAT: the public port its flow to the peer used (≠ localPort: masquerade resolved a clash). */
  outboundPublicPort: number | null;
  /** Conntrack entries of this side's NAT that involve the peer, as text. */
  entries: string[];
}

export interface RunOutcome {
  caseId: CaseId;
  run: number;
  ok: boolean;
  /** Both sides' actions ran on time (within 5 ms). */
  timingOk: boolean;
  /** The largest delay of a scheduled action on either side, ms. */
  maxLagMs: number;
  /** The late side's first probe minus the early side's, ms (sub-millisecond precision). */
  probeSkewMs: number | null;
  sides: [SideOutcome, SideOutcome];
}

/** Two port-restricted-cone sites (each classified by stun) and the echo server. */
export async function buildPrimingLab(log?: (m: string) => void): Promise<PrimingLab> {
  const lab = await Lab.create({ log });
  try {
    const [siteA, siteB] = await Promise.all([lab.addSite('port-restricted-cone'), lab.addSite('port-restricted-cone')]);
    const echo = lab.spawn(lab.server, process.execPath, ['-e', PUNCH_PROBE_SOURCE, 'echo', lab.server.ip, String(ECHO_PORT), String(15 * 60_000)]);
    await echo.waitFor(/"ready":true/, 10_000);
    return { lab, siteA, siteB };
  } catch (e) {
    await lab.close();
    throw e;
  }
}

let portCounter = 0;

/** One run of one case: flush both NATs, fresh ports, both sides on one schedule, then read conntrack. */
export async function runPrimingCase(p: PrimingLab, c: PrimingCase, run: number): Promise<RunOutcome> {
  const { lab, siteA, siteB } = p;
  await Promise.all([flushConntrack(lab, siteA.router), flushConntrack(lab, siteB.router)]);
  const n = portCounter++ % 4000;
  const portA = 40_000 + 2 * n;
  const portB = 50_000 + 2 * n;
  // Alternate which side is late, so neither site's position in the lab biases the result.
  const aEarly = run % 2 === 0;
  const t0 = Date.now() + LEAD_MS;
  const end = t0 + Math.max(c.early.probeAtMs, c.late.probeAtMs) + PROBES * PROBE_INTERVAL_MS + TAIL_MS;
  const start = (host: LabNode, port: number, peer: NatSite, peerPort: number, t: SideTiming) =>
    lab.spawn(host, process.execPath, [
      '-e', PUNCH_PROBE_SOURCE, 'punch',
      String(port), lab.server.ip, String(ECHO_PORT), peer.publicIp, String(peerPort),
      String(t.primeAtMs === null ? 0 : t0 + t.primeAtMs), String(PRIMES), String(PRIME_TTL),
      String(t0 + t.probeAtMs), String(PROBES), String(PROBE_INTERVAL_MS), String(end),
    ]);
  const pa = start(at(siteA.hosts, 0), portA, siteB, portB, aEarly ? c.early : c.late);
  const pb = start(at(siteB.hosts, 0), portB, siteA, portA, aEarly ? c.late : c.early);
  const bound = end - Date.now() + 10_000;
  await Promise.all([pa, pb].map((x) => Promise.race([x.exited, sleep(bound)])));
  const ra = lastReport(pa.stdout(), 'A');
  const rb = lastReport(pb.stdout(), 'B');
  const [ctA, ctB] = await Promise.all([listConntrack(lab, siteA.router, 'udp'), listConntrack(lab, siteB.router, 'udp')]);
  const sa = side('A', aEarly ? 'early' : 'late', ra, portA, siteA, siteB, portB, ctA);
  const sb = side('B', aEarly ? 'late' : 'early', rb, portB, siteB, siteA, portA, ctB);
  return {
    caseId: c.id,
    run,
    ok: sa.fromOriginal > 0 && sb.fromOriginal > 0,
    timingOk: sa.late.length === 0 && sb.late.length === 0,
    maxLagMs: Math.max(0, ...ra.late.map((l) => l.lagMs), ...rb.late.map((l) => l.lagMs)),
    probeSkewMs:
      ra.firstProbeAt !== null && rb.firstProbeAt !== null ? (aEarly ? rb.firstProbeAt - ra.firstProbeAt : ra.firstProbeAt - rb.firstProbeAt) : null,
    sides: [sa, sb],
  };
}

function lastReport(stdout: string, name: string): ProbeReport {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{') && l.includes('"received"')).pop();
  if (!line) throw new Error(`side ${name} printed no report: ${JSON.stringify(stdout.slice(-300))}`);
  return JSON.parse(line) as ProbeReport;
}

function side(
  name: 'A' | 'B',
  role: 'early' | 'late',
  r: ProbeReport,
  port: number,
  own: NatSite,
  peer: NatSite,
  peerPort: number,
  ct: ConntrackEntry[],
): SideOutcome {
  const fromPeer = r.received.filter((d) => d.from === peer.publicIp);
  const involved = ct.filter((e) => e.orig.src === peer.publicIp || e.orig.dst === peer.publicIp);
  const inbound = involved.find((e) => e.orig.src === peer.publicIp && e.orig.dst === own.publicIp && e.orig.dport === port);
  const outbound = involved.find((e) => e.orig.src === at(own.hosts, 0).ip && e.orig.sport === port && e.orig.dst === peer.publicIp);
  return {
    name,
    role,
    localPort: r.local,
    mapped: r.mapped,
    fromOriginal: fromPeer.filter((d) => d.port === peerPort).length,
    fromOther: [...new Set(fromPeer.filter((d) => d.port !== peerPort).map((d) => `${d.from}:${d.port}`))],
    late: r.late.map((l) => `${l.what} +${l.lagMs} ms`),
    inboundUnreplied: inbound?.unreplied ?? false,
    outboundPublicPort: outbound ? outbound.reply.dport : null,
    entries: involved.map(formatEntry),
  };
}

export interface CaseSummary {
  caseId: CaseId;
  title: string;
  runs: number;
  ok: number;
  /** Runs where a NAT held an UNREPLIED inbound entry and its host's flow got another port. */
  clashed: number;
  /** Runs whose timing slipped by more than 5 ms somewhere. */
  timingSlipped: number;
  /** Median of |late side's first probe − early side's| over the runs, ms. */
  medianSkewMs: number | null;
}

export function summarize(results: readonly RunOutcome[]): CaseSummary[] {
  return CASES.filter((c) => results.some((r) => r.caseId === c.id)).map((c) => {
    const rs = results.filter((r) => r.caseId === c.id);
    return {
      caseId: c.id,
      title: c.title,
      runs: rs.length,
      ok: rs.filter((r) => r.ok).length,
      clashed: rs.filter((r) => r.sides.some((s) => s.inboundUnreplied && s.outboundPublicPort !== null && s.outboundPublicPort !== s.localPort)).length,
      timingSlipped: rs.filter((r) => !r.timingOk).length,
      medianSkewMs: median(rs.flatMap((r) => (r.probeSkewMs === null ? [] : [Math.abs(r.probeSkewMs)]))),
    };
  });
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? at(s, m) : (at(s, m - 1) + at(s, m)) / 2;
}

export function formatSummary(s: readonly CaseSummary[]): string {
  const lines = ['case  what                                        success  clash seen  probe skew (median)  timing slipped'];
  for (const c of s) {
    const skew = c.medianSkewMs === null ? '?' : `${c.medianSkewMs.toFixed(3)} ms`;
    lines.push(`${c.caseId}     ${c.title.padEnd(44)}${`${c.ok}/${c.runs}`.padEnd(9)}${`${c.clashed}/${c.runs}`.padEnd(12)}${skew.padEnd(21)}${c.timingSlipped}`);
  }
  return lines.join('\n');
}

export interface ExperimentOptions {
  runs: number;
  cases?: readonly CaseId[] | undefined;
  log?: (m: string) => void;
  onRun?: (r: RunOutcome) => void;
}

/** Builds the lab, runs `runs` of each case (cases interleaved, so drift over time hits all alike), closes the lab. */
export async function runPrimingExperiment(o: ExperimentOptions): Promise<RunOutcome[]> {
  const cases = CASES.filter((c) => !o.cases || o.cases.includes(c.id));
  const p = await buildPrimingLab(o.log);
  const out: RunOutcome[] = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      for (const c of cases) {
        const r = await runPrimingCase(p, c, run);
        out.push(r);
        o.onRun?.(r);
      }
    }
  } finally {
    await p.lab.close();
  }
  return out;
}

function describeRun(r: RunOutcome): string {
  const s = r.sides
    .map(
      (x) =>
        `${x.name}(${x.role}) got ${x.fromOriginal}${x.fromOther.length ? ` +other ${x.fromOther.join(',')}` : ''}` +
        `${x.inboundUnreplied ? ' unreplied-in' : ''}${x.outboundPublicPort !== null && x.outboundPublicPort !== x.localPort ? ` clash->:${x.outboundPublicPort}` : ''}` +
        `${x.late.length ? ` LATE[${x.late.join(';')}]` : ''}`,
    )
    .join('  ');
  const skew = r.probeSkewMs === null ? '' : ` skew ${r.probeSkewMs.toFixed(3)} ms`;
  return `case ${r.caseId} run ${r.run}: ${r.ok ? 'ok  ' : 'FAIL'}${skew}  ${s}`;
}

async function main(argv: string[]): Promise<number> {
  const why = kernelLabSkipReason();
  if (why) {
    process.stderr.write(`ttl-priming: cannot run: ${why}\n`);
    return 2;
  }
  let runs = 10;
  let json = false;
  let cases: CaseId[] | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') runs = Math.max(1, Math.min(200, Number(argv[++i])));
    else if (a === '--json') json = true;
    else if (a === '--verbose') verbose = true;
    else if (a === '--cases') cases = (argv[++i] ?? '').split('').filter((x): x is CaseId => 'abcd'.includes(x));
    else {
      process.stderr.write('usage: ttl-priming [--runs N] [--cases abcd] [--json] [--verbose]\n');
      return 2;
    }
  }
  if (!Number.isInteger(runs)) runs = 10;
  const results = await runPrimingExperiment({
    runs,
    cases,
    onRun: (r) => {
      if (!json) process.stdout.write(describeRun(r) + '\n');
      if (verbose && !json) for (const s of r.sides) for (const e of s.entries) process.stdout.write(`    NAT ${s.name}: ${e}\n`);
    },
  });
  const summary = summarize(results);
  if (json) process.stdout.write(JSON.stringify({ summary, results }, null, 2) + '\n');
  else process.stdout.write('\n' + formatSummary(summary) + '\n');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`ttl-priming: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

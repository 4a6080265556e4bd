/**
 * The NAT matrix on the in-process lane: for each ordered pair of the virtual
 * lane's site profiles (the kernel lane's ten plus symmetric-sequential), one
 * whole session (virtual-session.ts) moves N bytes each way byte-exact, and
 * the outcome is checked against the expected table (expected.ts): in stcp
 * mode its relay column (every pair must relay), in xtcp mode its direct
 * column ("direct" and "prediction" must go direct, "relay" must relay,
 * "birthday" may do either). No root, no processes: a pair is a fresh
 * topology, rendezvous, provider and visitor in this process, on a fake
 * clock; cell times are virtual.
 */
import { performance } from 'node:perf_hooks';
import { PROFILE_NAMES, type ProfileName } from '../kernel/profiles.js';
import { LAB_PROFILE_NAMES, type LabProfileName } from '../virtual/topology.js';
import { expectedFor, labExpectedDirect, xtcpAsExpected, xtcpExpectation, type RelayOutcome, type XtcpExpectation } from './expected.js';
import { runVirtualSession, type VirtualSessionResult } from './virtual-session.js';

export const VIRTUAL_PROFILES: readonly LabProfileName[] = LAB_PROFILE_NAMES;
export const VIRTUAL_DEFAULT_SIZE = 16 * 1024 * 1024;
export const VIRTUAL_DEFAULT_SEED = 1;

function isKernelProfile(p: LabProfileName): p is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(p);
}

/**
 * The relay column for a pair. symmetric-sequential has no kernel twin and so
 * no row in expected.ts; the relay column's reasoning (the relay is TCP out
 * to the rendezvous from both sides, whatever the NAT does to UDP) gives
 * "relay" for it too.
 */
export function virtualExpectedRelay(provider: LabProfileName, visitor: LabProfileName): RelayOutcome {
  if (isKernelProfile(provider) && isKernelProfile(visitor)) return expectedFor(provider, visitor).relay;
  return 'relay';
}

export function allVirtualPairs(profiles: readonly LabProfileName[] = VIRTUAL_PROFILES): Array<[LabProfileName, LabProfileName]> {
  return profiles.flatMap((a) => profiles.map((b): [LabProfileName, LabProfileName] => [a, b]));
}

export type VirtualMatrixMode = 'stcp' | 'xtcp';

/** What a cell must show in this mode: the relay column (stcp) or the direct column (xtcp). */
export function virtualExpected(mode: VirtualMatrixMode, provider: LabProfileName, visitor: LabProfileName): RelayOutcome | XtcpExpectation {
  return mode === 'stcp' ? virtualExpectedRelay(provider, visitor) : xtcpExpectation(labExpectedDirect(provider, visitor).direct);
}

export interface VirtualPairResult {
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  outcome: VirtualSessionResult['outcome'];
  /** Path the visitor reported for the connection ("relay", "direct LAN", "direct internet"). */
  path: string | null;
  /** Virtual ms (see VirtualSessionResult). */
  setupMs: number | null;
  /** xtcp: visitor's session up → direct path locked, virtual ms (null: no direct path). */
  directMs: number | null;
  /** xtcp: why the visitor's last punch attempt failed (with its timeline), and how many failed. */
  punchFailure?: string;
  punchAttempts?: number;
  ttfbMs: number | null;
  totalMs: number | null;
  bytesUp: number;
  bytesDown: number;
  upVerified: boolean;
  downVerified: boolean;
  /** stcp: the relay column; xtcp: the direct column ('direct', 'relay', or 'birthday' = either). */
  expected: RelayOutcome | XtcpExpectation;
  asExpected: boolean;
  /** Wall-clock ms the pair took. */
  realMs: number;
  tcpDigest: string;
  leftSockets: number;
  leftListeners: number;
  error?: string;
}

export interface VirtualMatrixRun {
  lane: 'virtual';
  mode: VirtualMatrixMode;
  seed: number;
  sizeBytes: number;
  rows: LabProfileName[];
  cols: LabProfileName[];
  results: VirtualPairResult[];
  /** Wall-clock ms for the whole run. */
  totalMs: number;
}

export interface VirtualMatrixOptions {
  pairs: ReadonlyArray<readonly [LabProfileName, LabProfileName]>;
  sizeBytes?: number;
  /** stcp (default): relay only, the relay column; xtcp: punch, then the direct column. */
  mode?: VirtualMatrixMode;
  /** Pair i runs with seed + i. */
  seed?: number;
  onPair?: (r: VirtualPairResult, done: number, total: number) => void;
}

function ordered(names: Iterable<LabProfileName>): LabProfileName[] {
  const set = new Set(names);
  return VIRTUAL_PROFILES.filter((p) => set.has(p));
}

export async function runVirtualMatrix(opts: VirtualMatrixOptions): Promise<VirtualMatrixRun> {
  const t0 = performance.now();
  const sizeBytes = opts.sizeBytes ?? VIRTUAL_DEFAULT_SIZE;
  const seed = opts.seed ?? VIRTUAL_DEFAULT_SEED;
  const mode = opts.mode ?? 'stcp';
  const results: VirtualPairResult[] = [];
  for (const [i, [provider, visitor]] of opts.pairs.entries()) {
    const r = await runVirtualSession({ provider, visitor, seed: seed + i, sizeBytes, mode });
    const outcome = r.outcome;
    const verified = r.upVerified && r.downVerified;
    let expected: RelayOutcome | XtcpExpectation;
    let asExpected: boolean;
    if (mode === 'stcp') {
      const e = virtualExpectedRelay(provider, visitor);
      [expected, asExpected] = [e, verified && outcome === e];
    } else {
      const e = xtcpExpectation(labExpectedDirect(provider, visitor).direct);
      [expected, asExpected] = [e, verified && xtcpAsExpected(e, outcome)];
    }
    const pair: VirtualPairResult = {
      provider,
      visitor,
      seed: seed + i,
      outcome,
      path: r.path,
      setupMs: r.setupMs,
      directMs: r.directMs,
      ...(r.punchFailure !== undefined ? { punchFailure: r.punchFailure, punchAttempts: r.punchAttempts ?? 0 } : {}),
      ttfbMs: r.ttfbMs,
      totalMs: r.totalMs,
      bytesUp: r.bytesUp,
      bytesDown: r.bytesDown,
      upVerified: r.upVerified,
      downVerified: r.downVerified,
      expected,
      asExpected,
      realMs: r.realMs,
      tcpDigest: r.tcpDigest,
      leftSockets: r.leftSockets,
      leftListeners: r.leftListeners,
      ...(r.error !== undefined ? { error: r.error } : {}),
    };
    results.push(pair);
    opts.onPair?.(pair, results.length, opts.pairs.length);
  }
  return {
    lane: 'virtual',
    mode,
    seed,
    sizeBytes,
    rows: ordered(opts.pairs.map(([a]) => a)),
    cols: ordered(opts.pairs.map(([, b]) => b)),
    results,
    totalMs: performance.now() - t0,
  };
}

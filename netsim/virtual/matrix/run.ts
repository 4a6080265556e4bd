/**
 * The NAT matrix on the in-process lane: for each ordered pair of the virtual
 * lane's site profiles (the kernel lane's eleven plus symmetric-sequential), one
 * whole session (session.ts) moves N bytes each way byte-exact, and the
 * outcome is checked against the expected table (../../matrix/expected.ts):
 * in stcp mode its relay column (every pair must relay), in xtcp mode its
 * direct column ("direct" and "prediction" must go direct, "relay" must
 * relay, "birthday" may do either) and its via column (a "mapped" pair
 * must lock a router's mapped port, a "punch" pair must not). No root, no
 * processes: a pair is a fresh topology, rendezvous, provider and visitor in
 * this process, on a fake clock; cell times are virtual.
 */
import { performance } from 'node:perf_hooks';
import { LAB_PROFILE_NAMES, type LabProfileName } from '../topology.js';
import { cellAsExpected, cellExpectation, labExpectedVia, viaAsExpected, type MatrixMode } from '../../matrix/expected.js';
import { inOrder, type VirtualMatrixRun, type VirtualPairResult } from '../../matrix/result.js';
import { runVirtualSession } from './session.js';

export const VIRTUAL_PROFILES: readonly LabProfileName[] = LAB_PROFILE_NAMES;
export const VIRTUAL_DEFAULT_SIZE = 16 * 1024 * 1024;
export const VIRTUAL_DEFAULT_SEED = 1;

export interface VirtualMatrixOptions {
  pairs: ReadonlyArray<readonly [LabProfileName, LabProfileName]>;
  sizeBytes?: number;
  /** stcp (default): relay only, the relay column; xtcp: punch, then the direct column. */
  mode?: MatrixMode;
  /** Pair i runs with seed + i. */
  seed?: number;
  onPair?: (r: VirtualPairResult, done: number, total: number) => void;
}

export async function runVirtualMatrix(opts: VirtualMatrixOptions): Promise<VirtualMatrixRun> {
  const t0 = performance.now();
  const sizeBytes = opts.sizeBytes ?? VIRTUAL_DEFAULT_SIZE;
  const seed = opts.seed ?? VIRTUAL_DEFAULT_SEED;
  const mode = opts.mode ?? 'stcp';
  const results: VirtualPairResult[] = [];
  for (const [i, [provider, visitor]] of opts.pairs.entries()) {
    const r = await runVirtualSession({ provider, visitor, seed: seed + i, sizeBytes, mode });
    const expected = cellExpectation(mode, provider, visitor);
    const expectedVia = mode === 'xtcp' ? labExpectedVia(provider, visitor).via : undefined;
    const pair: VirtualPairResult = {
      provider,
      visitor,
      seed: seed + i,
      outcome: r.outcome,
      path: r.path,
      setupMs: r.setupMs,
      directMs: r.directMs,
      ...(r.punchFailure !== undefined ? { punchFailure: r.punchFailure, punchAttempts: r.punchAttempts ?? 0 } : {}),
      ...(r.via !== undefined ? { via: r.via } : {}),
      ...(r.portmap !== undefined ? { portmap: r.portmap } : {}),
      ttfbMs: r.ttfbMs,
      totalMs: r.totalMs,
      bytesUp: r.bytesUp,
      bytesDown: r.bytesDown,
      upVerified: r.upVerified,
      downVerified: r.downVerified,
      expected,
      ...(expectedVia !== undefined ? { expectedVia } : {}),
      asExpected:
        cellAsExpected(expected, r.outcome, r.upVerified && r.downVerified) && (expectedVia === undefined || viaAsExpected(expectedVia, r.outcome, r.via)),
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
    rows: inOrder(opts.pairs.map(([a]) => a), VIRTUAL_PROFILES),
    cols: inOrder(opts.pairs.map(([, b]) => b), VIRTUAL_PROFILES),
    results,
    totalMs: performance.now() - t0,
  };
}

/**
 * What a matrix run produces, on either lane: one cell per ordered pair of
 * NAT profiles (the part both lanes measure, plus each lane's own extras),
 * and the run around them. The formatter (format.ts) and the CLI read these
 * types only; the runners are kernel/matrix/run.ts and virtual/matrix/run.ts.
 */
import type { ProfileName } from '../kernel/profiles.js';
import type { LabProfileName } from '../virtual/topology.js';
import type { CellExpectation, DirectVia, MatrixMode, MatrixProfileName, MeasuredVia } from './expected.js';

export type { MatrixMode } from './expected.js';
export type PairOutcome = 'relay' | 'direct' | 'failed';

/** What one pair's session measured (times are wall-clock ms on the kernel lane, virtual ms in process). */
export interface PairMeasure {
  outcome: PairOutcome;
  /** Path the visitor reported for the connection ("relay", "direct LAN", "direct internet"). */
  path: string | null;
  /** Peers started → the visitor's session up (login, CPace, relay link). */
  setupMs: number | null;
  /** xtcp: the visitor's session up → direct path locked (null: no direct path). */
  directMs: number | null;
  /** xtcp, when direct: through a router's mapped port (either peer locked its `mapped` candidate) or punched. */
  via?: MeasuredVia;
  /** Pairs with a port-mapping router: what the peers' port mapping said (e.g. "provider: mapped by pcp 11.0.0.18:40123"). */
  portmap?: string;
  /** xtcp: why the visitor's last punch attempt failed (with its timeline), and how many attempts failed. */
  punchFailure?: string;
  punchAttempts?: number;
  /** The client's connect → first byte back. */
  ttfbMs: number | null;
  /** The client's connect → both directions complete and verified. */
  totalMs: number | null;
  /** Bytes verified (SHA-256) each way. */
  bytesUp: number;
  bytesDown: number;
  upVerified: boolean;
  downVerified: boolean;
  error?: string;
}

/** One cell: the measure, the pair, and the verdict against the expected table. */
export interface PairResult<P extends MatrixProfileName = MatrixProfileName> extends PairMeasure {
  provider: P;
  visitor: P;
  /** stcp: the relay column; xtcp: the direct column ('direct', 'relay', or 'birthday' = either). */
  expected: CellExpectation;
  /** xtcp: the via column (which kind of direct path), checked with `expected`. */
  expectedVia?: DirectVia;
  asExpected: boolean;
}

/** A kernel-lane cell: real processes in lab sites. */
export interface KernelPairResult extends PairResult<ProfileName> {
  /** Site indexes (lab numbering) of the provider and visitor hosts. */
  providerSite: number;
  visitorSite: number;
  service: string;
  /** Pairs with a port-mapping site: mappings its router still held after both peers exited (should be 0). */
  forwardsLeft?: number;
}

/** An in-process cell: one seeded session on the fake clock. */
export interface VirtualPairResult extends PairResult<LabProfileName> {
  seed: number;
  /** Wall-clock ms the pair took. */
  realMs: number;
  tcpDigest: string;
  /** Virtual sockets and listeners left after teardown (a leak: counts as a contradiction). */
  leftSockets: number;
  leftListeners: number;
}

export interface SiteInfo {
  index: number;
  profile: ProfileName;
  publicIp: string;
  stun: string | null;
  buildMs: number;
}

interface MatrixRunBase<P extends MatrixProfileName, R extends PairResult<P>> {
  mode: MatrixMode;
  sizeBytes: number;
  /** Row profiles (provider side) and column profiles (visitor side), in table order. */
  rows: P[];
  cols: P[];
  results: R[];
  /** Wall-clock ms for the whole run. */
  totalMs: number;
}

export interface KernelMatrixRun extends MatrixRunBase<ProfileName, KernelPairResult> {
  lane: 'kernel';
  runId: string;
  sites: SiteInfo[];
  buildMs: number;
  /** Namespaces of the run still present after teardown (should be empty). */
  leftNamespaces: string[];
  /** PIDs of every process the run started in the lab (stund included), for leak checks. */
  pids: number[];
}

export interface VirtualMatrixRun extends MatrixRunBase<LabProfileName, VirtualPairResult> {
  lane: 'virtual';
  /** Pair i ran with seed + i. */
  seed: number;
}

export type MatrixRun = KernelMatrixRun | VirtualMatrixRun;

/** All ordered pairs of the given profiles. */
export function allPairs<P extends MatrixProfileName>(profiles: readonly P[]): Array<[P, P]> {
  return profiles.flatMap((a) => profiles.map((b): [P, P] => [a, b]));
}

/** The profiles of `names` in `order`'s order, each once (a table's rows or columns). */
export function inOrder<P extends MatrixProfileName>(names: Iterable<P>, order: readonly P[]): P[] {
  const set = new Set(names);
  return order.filter((p) => set.has(p));
}

/**
 * A matrix run as text, either lane: the table (rows: provider's profile,
 * columns: visitor's) and a summary against the expected table. The lanes
 * differ only in what their times mean (wall clock vs virtual) and in what
 * each can leak (namespaces vs virtual sockets).
 */
import { at } from '../../src/util/at.js';
import { labExpectedDirect, type DirectExpectation, type MatrixProfileName } from './expected.js';
import type { MatrixRun, PairResult, VirtualPairResult } from './result.js';

/** Column headings (profile names are too wide for eleven columns). */
export const SHORT: Readonly<Record<MatrixProfileName, string>> = {
  'full-cone': 'full',
  'restricted-cone': 'restr',
  'port-restricted-cone': 'port-r',
  'symmetric-random': 'sym-rnd',
  'symmetric-sequential': 'sym-seq',
  'udp-blocked': 'udp-blk',
  hairpin: 'hairpin',
  'no-hairpin': 'no-hairp',
  'double-nat': 'dbl-nat',
  'short-lifetime': 'short-5s',
  'lossy-core': 'lossy',
  'upnp-router': 'upnp',
};

const COL = 12;

/**
 * stcp: "relay 1.6s" (time to move both directions). xtcp: "direct 0.3s"
 * (time from the visitor's session up to the direct path), "mapped 0.3s"
 * (the same, through a router's mapped port) or "relay 0.2s" (no direct
 * path: time to move both directions). "FAIL" when the bytes did not arrive
 * intact; "!" marks a cell that contradicts the expected table.
 */
export function cellText(r: PairResult<MatrixProfileName> | undefined): string {
  if (!r) return '·';
  if (r.outcome === 'failed') return 'FAIL';
  const v = r.outcome === 'direct' && r.directMs !== null ? r.directMs : r.totalMs;
  const t = v === null ? '?' : `${(v / 1000).toFixed(1)}s`;
  const what = r.outcome === 'direct' && r.via === 'mapped' ? 'mapped' : r.outcome;
  return `${what} ${t}${r.asExpected ? '' : '!'}`;
}

/** Nearest-rank quantile; the median of an even count is the mean of the middle two (null for no values). */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  if (q === 0.5) {
    const m = s.length >> 1;
    return s.length % 2 ? at(s, m) : (at(s, m - 1) + at(s, m)) / 2;
  }
  return at(s, Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1)));
}

const median = (xs: readonly number[]): number | null => quantile(xs, 0.5);
const ms = (v: number | null): string => (v === null ? '?' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const isVirtualCell = (r: PairResult): r is VirtualPairResult => 'leftSockets' in r;
const known = (xs: ReadonlyArray<number | null>): number[] => xs.flatMap((x) => (x === null ? [] : [x]));

/** Cells that contradict the expected table; on the in-process lane also those that left virtual sockets open. */
export function contradictions(run: MatrixRun): PairResult[] {
  if (run.lane === 'kernel') return run.results.filter((r) => !r.asExpected);
  return run.results.filter((r) => !r.asExpected || r.leftSockets > 0 || r.leftListeners > 0);
}

export function formatTable(run: MatrixRun): string {
  const results: readonly PairResult[] = run.results;
  const by = new Map(results.map((r) => [`${r.provider}->${r.visitor}`, r]));
  const rows: readonly MatrixProfileName[] = run.rows;
  const cols: readonly MatrixProfileName[] = run.cols;
  const rowW = Math.max(22, ...rows.map((r) => r.length + 2));
  const xtcp = run.mode === 'xtcp';
  const lane = run.lane === 'kernel' ? 'kernel lane' : `in-process lane (seed ${run.seed})`;
  const time = run.lane === 'kernel' ? 'time' : 'virtual time';
  const lines = [
    `${xtcp ? 'direct (xtcp)' : 'relay (stcp)'} matrix, ${lane}: ${run.sizeBytes / (1024 * 1024)} MiB each way per pair, SHA-256 checked both ways`,
    xtcp
      ? `rows: provider behind; columns: visitor behind; cell: path of the connection and ${time} from session up to the direct path (relay: ${time} to move both directions)`
      : `rows: provider behind; columns: visitor behind; cell: outcome and ${time} to move both directions`,
    '',
    'provider ↓  visitor →'.padEnd(rowW) + cols.map((c) => SHORT[c].padEnd(COL)).join('').trimEnd(),
  ];
  for (const row of rows) lines.push(row.padEnd(rowW) + cols.map((c) => cellText(by.get(`${row}->${c}`)).padEnd(COL)).join('').trimEnd());
  return lines.join('\n');
}

export interface DirectClassTimes {
  cls: DirectExpectation;
  pairs: number;
  direct: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** Time to direct per class of the expected direct column, for pairs that went direct. */
export function timeToDirectByClass(run: MatrixRun): DirectClassTimes[] {
  const results: readonly PairResult[] = run.results;
  const classes: DirectExpectation[] = ['direct', 'prediction', 'birthday', 'relay'];
  return classes.flatMap((cls) => {
    const rs = results.filter((r) => labExpectedDirect(r.provider, r.visitor).direct === cls);
    if (rs.length === 0) return [];
    const t = rs.flatMap((r) => (r.outcome === 'direct' && r.directMs !== null ? [r.directMs] : []));
    return [{ cls, pairs: rs.length, direct: t.length, p50: quantile(t, 0.5), p95: quantile(t, 0.95), max: t.length ? Math.max(...t) : null }];
  });
}

export function formatSummary(run: MatrixRun): string {
  const results: readonly PairResult[] = run.results;
  const bad = contradictions(run);
  const done = results.filter((r) => r.outcome !== 'failed');
  const verified = results.reduce((n, r) => n + r.bytesUp + r.bytesDown, 0);
  const kernel = run.lane === 'kernel';
  const column =
    run.mode === 'xtcp'
      ? ' (netsim/matrix/expected.ts, direct column: "direct"/"prediction" must go direct, "relay" must relay, "birthday" may do either; via column: a "mapped" pair must go through the router\'s mapped port; all byte-exact)'
      : ' (netsim/matrix/expected.ts, relay column: every pair must relay, byte-exact)';
  const where = kernel ? ` on ${run.sites.length} sites (lab ${run.runId})` : '';
  const lines = [
    `${results.length} pairs${where}: ${results.length - bad.length} as expected, ${bad.length} contradict the expected table${column}`,
    `median${kernel ? '' : ' (virtual)'}: session set-up ${ms(median(known(done.map((r) => r.setupMs))))}, ` +
      `first byte ${ms(median(known(done.map((r) => r.ttfbMs))))}, ` +
      `complete ${ms(median(known(done.map((r) => r.totalMs))))}; ` +
      `${(verified / (1024 * 1024)).toFixed(0)} MiB verified` +
      (kernel ? `; build ${ms(run.buildMs)}, whole run ${ms(run.totalMs)}` : ''),
  ];
  if (run.mode === 'xtcp') {
    const d = results.filter((r) => r.outcome === 'direct');
    const mapped = d.filter((r) => r.via === 'mapped').length;
    if (mapped > 0) lines.push(`through a router's mapped port: ${mapped} of the ${d.length} direct pairs ("mapped" cells)`);
    lines.push(
      `direct: ${d.length} of ${results.length} pairs; ${kernel ? '' : 'virtual '}time from session up to direct, by expected class: ` +
        timeToDirectByClass(run)
          .map((c) => `${c.cls} ${c.direct}/${c.pairs}` + (c.direct ? ` (p50 ${ms(c.p50)}, p95 ${ms(c.p95)}, max ${ms(c.max)})` : ''))
          .join('; '),
    );
  }
  if (run.lane === 'virtual') {
    const real = run.results.map((r) => r.realMs);
    lines.push(`wall clock: whole run ${ms(run.totalMs)}, per pair median ${ms(median(real))}, max ${ms(real.length ? Math.max(...real) : null)}`);
  }
  for (const r of bad) {
    const seed = isVirtualCell(r) ? ` (seed ${r.seed})` : '';
    const punch = r.punchFailure ? `; last punch failure: ${r.punchFailure.split('\n')[0]}` : '';
    const left = isVirtualCell(r) && (r.leftSockets || r.leftListeners) ? `; ${r.leftSockets} sockets and ${r.leftListeners} listeners left open` : '';
    const expVia = r.expectedVia !== undefined && r.expectedVia !== 'none' ? ` via ${r.expectedVia}` : '';
    const gotVia = r.via !== undefined ? ` via ${r.via}` : '';
    const portmap = r.portmap ? `; port mapping: ${r.portmap}` : '';
    lines.push(
      `  CONTRADICTS ${r.provider} -> ${r.visitor}${seed}: expected ${r.expected}${expVia}, got ${r.outcome}${gotVia}` +
        ` (up ${r.upVerified ? 'ok' : 'NOT verified'}, down ${r.downVerified ? 'ok' : 'NOT verified'})${r.error ? `: ${r.error}` : ''}${punch}${portmap}${left}`,
    );
  }
  if (kernel) {
    for (const r of run.results) {
      if ((r.forwardsLeft ?? 0) > 0) lines.push(`WARNING: ${r.provider} -> ${r.visitor}: the router still held ${r.forwardsLeft} mapping(s) after the peers exited`);
    }
  }
  if (kernel && run.leftNamespaces.length) lines.push(`WARNING: namespaces left after teardown: ${run.leftNamespaces.join(', ')}`);
  return lines.join('\n');
}

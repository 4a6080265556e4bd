/**
 * The in-process lane's matrix as text: the same table layout as the kernel
 * lane's (format.ts), with virtual times, and a summary against the expected
 * table (relay column in stcp mode, direct column in xtcp mode).
 */
import type { LabProfileName } from '../virtual/topology.js';
import { labExpectedDirect, type DirectExpectation } from './expected.js';
import { SHORT } from './format.js';
import type { VirtualMatrixRun, VirtualPairResult } from './virtual-matrix.js';

const COL = 12;

function short(p: LabProfileName): string {
  return p === 'symmetric-sequential' ? 'sym-seq' : SHORT[p];
}

/**
 * stcp: "relay 1.6s" (virtual time to move both directions). xtcp: "direct
 * 0.3s" (virtual time from the visitor's session up to the direct path) or
 * "relay 0.2s" (no direct path: time to move both directions). "FAIL" when
 * the bytes did not arrive intact; "!" marks a cell that contradicts the
 * expected table.
 */
export function virtualCellText(r: VirtualPairResult | undefined): string {
  if (!r) return '·';
  if (r.outcome === 'failed') return 'FAIL';
  const v = r.outcome === 'direct' && r.directMs !== null ? r.directMs : r.totalMs;
  const t = v === null ? '?' : `${(v / 1000).toFixed(1)}s`;
  return `${r.outcome} ${t}${r.asExpected ? '' : '!'}`;
}

function median(xs: number[]): number | null {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile (null for no values). */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  if (q === 0.5) {
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  }
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const ms = (v: number | null): string => (v === null ? '?' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

export function virtualContradictions(run: VirtualMatrixRun): VirtualPairResult[] {
  return run.results.filter((r) => !r.asExpected || r.leftSockets > 0 || r.leftListeners > 0);
}

export function formatVirtualTable(run: VirtualMatrixRun): string {
  const by = new Map(run.results.map((r) => [`${r.provider}->${r.visitor}`, r]));
  const rowW = Math.max(22, ...run.rows.map((r) => r.length + 2));
  const lines: string[] = [];
  const xtcp = run.mode === 'xtcp';
  lines.push(
    `${xtcp ? 'direct (xtcp)' : 'relay (stcp)'} matrix, in-process lane (seed ${run.seed}): ${run.sizeBytes / (1024 * 1024)} MiB each way per pair, SHA-256 checked both ways`,
  );
  lines.push(
    xtcp
      ? 'rows: provider behind; columns: visitor behind; cell: path of the connection and virtual time from session up to the direct path (relay: virtual time to move both directions)'
      : 'rows: provider behind; columns: visitor behind; cell: outcome and virtual time to move both directions',
  );
  lines.push('');
  lines.push('provider ↓  visitor →'.padEnd(rowW) + run.cols.map((c) => short(c).padEnd(COL)).join('').trimEnd());
  for (const row of run.rows) {
    lines.push(row.padEnd(rowW) + run.cols.map((c) => virtualCellText(by.get(`${row}->${c}`)).padEnd(COL)).join('').trimEnd());
  }
  return lines.join('\n');
}

/** Time to direct (virtual ms) per class of the expected direct column, for pairs that went direct. */
export function timeToDirectByClass(run: VirtualMatrixRun): Array<{ cls: DirectExpectation; pairs: number; direct: number; p50: number | null; p95: number | null; max: number | null }> {
  const classes: DirectExpectation[] = ['direct', 'prediction', 'birthday', 'relay'];
  return classes.flatMap((cls) => {
    const rs = run.results.filter((r) => labExpectedDirect(r.provider, r.visitor).direct === cls);
    if (rs.length === 0) return [];
    const t = rs.flatMap((r) => (r.outcome === 'direct' && r.directMs !== null ? [r.directMs] : []));
    return [{ cls, pairs: rs.length, direct: t.length, p50: quantile(t, 0.5), p95: quantile(t, 0.95), max: t.length ? Math.max(...t) : null }];
  });
}

export function formatVirtualSummary(run: VirtualMatrixRun): string {
  const lines: string[] = [];
  const bad = virtualContradictions(run);
  const ok = run.results.length - bad.length;
  const done = run.results.filter((r) => r.outcome !== 'failed');
  const verified = run.results.reduce((n, r) => n + r.bytesUp + r.bytesDown, 0);
  const real = run.results.map((r) => r.realMs);
  lines.push(
    `${run.results.length} pairs: ${ok} as expected, ${bad.length} contradict the expected table` +
      (run.mode === 'xtcp'
        ? ' (netsim/matrix/expected.ts, direct column: "direct"/"prediction" must go direct, "relay" must relay, "birthday" may do either; all byte-exact)'
        : ' (netsim/matrix/expected.ts, relay column: every pair must relay, byte-exact)'),
  );
  lines.push(
    `median (virtual): session set-up ${ms(median(done.flatMap((r) => (r.setupMs === null ? [] : [r.setupMs]))))}, ` +
      `first byte ${ms(median(done.flatMap((r) => (r.ttfbMs === null ? [] : [r.ttfbMs]))))}, ` +
      `complete ${ms(median(done.flatMap((r) => (r.totalMs === null ? [] : [r.totalMs]))))}; ` +
      `${(verified / (1024 * 1024)).toFixed(0)} MiB verified`,
  );
  if (run.mode === 'xtcp') {
    const d = run.results.filter((r) => r.outcome === 'direct');
    lines.push(
      `direct: ${d.length} of ${run.results.length} pairs; virtual time from session up to direct, by expected class: ` +
        timeToDirectByClass(run)
          .map((c) => `${c.cls} ${c.direct}/${c.pairs}` + (c.direct ? ` (p50 ${ms(c.p50)}, p95 ${ms(c.p95)}, max ${ms(c.max)})` : ''))
          .join('; '),
    );
  }
  lines.push(
    `wall clock: whole run ${ms(run.totalMs)}, per pair median ${ms(median(real))}, max ${ms(real.length ? Math.max(...real) : null)}`,
  );
  for (const r of bad) {
    const left = r.leftSockets || r.leftListeners ? `; ${r.leftSockets} sockets and ${r.leftListeners} listeners left open` : '';
    const punch = r.punchFailure ? `; last punch failure: ${r.punchFailure.split('\n')[0]}` : '';
    lines.push(
      `  CONTRADICTS ${r.provider} -> ${r.visitor} (seed ${r.seed}): expected ${r.expected}, got ${r.outcome}` +
        ` (up ${r.upVerified ? 'ok' : 'NOT verified'}, down ${r.downVerified ? 'ok' : 'NOT verified'})${r.error ? `: ${r.error}` : ''}${punch}${left}`,
    );
  }
  return lines.join('\n');
}

/**
 * The in-process lane's matrix as text: the same table layout as the kernel
 * lane's (format.ts), with virtual times, and a summary against the expected
 * table's relay column.
 */
import type { LabProfileName } from '../virtual/topology.js';
import { SHORT } from './format.js';
import type { VirtualMatrixRun, VirtualPairResult } from './virtual-matrix.js';

const COL = 12;

function short(p: LabProfileName): string {
  return p === 'symmetric-sequential' ? 'sym-seq' : SHORT[p];
}

/** "relay 1.6s" (virtual time to complete both directions), "FAIL", or a marked contradiction. */
export function virtualCellText(r: VirtualPairResult | undefined): string {
  if (!r) return '·';
  if (r.outcome === 'failed') return 'FAIL';
  const t = r.totalMs === null ? '?' : `${(r.totalMs / 1000).toFixed(1)}s`;
  return `${r.outcome} ${t}${r.asExpected ? '' : '!'}`;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ms = (v: number | null): string => (v === null ? '?' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

export function virtualContradictions(run: VirtualMatrixRun): VirtualPairResult[] {
  return run.results.filter((r) => !r.asExpected || r.leftSockets > 0 || r.leftListeners > 0);
}

export function formatVirtualTable(run: VirtualMatrixRun): string {
  const by = new Map(run.results.map((r) => [`${r.provider}->${r.visitor}`, r]));
  const rowW = Math.max(22, ...run.rows.map((r) => r.length + 2));
  const lines: string[] = [];
  lines.push(
    `relay (stcp) matrix, in-process lane (seed ${run.seed}): ${run.sizeBytes / (1024 * 1024)} MiB each way per pair, SHA-256 checked both ways`,
  );
  lines.push('rows: provider behind; columns: visitor behind; cell: outcome and virtual time to move both directions');
  lines.push('');
  lines.push('provider ↓  visitor →'.padEnd(rowW) + run.cols.map((c) => short(c).padEnd(COL)).join('').trimEnd());
  for (const row of run.rows) {
    lines.push(row.padEnd(rowW) + run.cols.map((c) => virtualCellText(by.get(`${row}->${c}`)).padEnd(COL)).join('').trimEnd());
  }
  return lines.join('\n');
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
      ' (netsim/matrix/expected.ts, relay column: every pair must relay, byte-exact)',
  );
  lines.push(
    `median (virtual): session set-up ${ms(median(done.flatMap((r) => (r.setupMs === null ? [] : [r.setupMs]))))}, ` +
      `first byte ${ms(median(done.flatMap((r) => (r.ttfbMs === null ? [] : [r.ttfbMs]))))}, ` +
      `complete ${ms(median(done.flatMap((r) => (r.totalMs === null ? [] : [r.totalMs]))))}; ` +
      `${(verified / (1024 * 1024)).toFixed(0)} MiB verified`,
  );
  lines.push(
    `wall clock: whole run ${ms(run.totalMs)}, per pair median ${ms(median(real))}, max ${ms(real.length ? Math.max(...real) : null)}`,
  );
  for (const r of bad) {
    const left = r.leftSockets || r.leftListeners ? `; ${r.leftSockets} sockets and ${r.leftListeners} listeners left open` : '';
    lines.push(
      `  CONTRADICTS ${r.provider} -> ${r.visitor} (seed ${r.seed}): expected ${r.expected}, got ${r.outcome}` +
        ` (up ${r.upVerified ? 'ok' : 'NOT verified'}, down ${r.downVerified ? 'ok' : 'NOT verified'})${r.error ? `: ${r.error}` : ''}${left}`,
    );
  }
  return lines.join('\n');
}

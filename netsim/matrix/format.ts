/** Renders a matrix run as a table plus a summary against the expected-outcome table. */
import type { ProfileName } from '../kernel/profiles.js';
import { expectedFor, type DirectExpectation } from './expected.js';
import type { MatrixRun, PairResult } from './kernel-matrix.js';

/** Column headings (profile names are too wide for ten columns). */
export const SHORT: Readonly<Record<ProfileName, string>> = {
  'full-cone': 'full',
  'restricted-cone': 'restr',
  'port-restricted-cone': 'port-r',
  'symmetric-random': 'sym-rnd',
  'udp-blocked': 'udp-blk',
  hairpin: 'hairpin',
  'no-hairpin': 'no-hairp',
  'double-nat': 'dbl-nat',
  'short-lifetime': 'short-5s',
  'lossy-core': 'lossy',
};

const COL = 12;

/** "relay 0.4s" (time to complete both directions), "FAIL", or a marked contradiction. */
export function cellText(r: PairResult | undefined): string {
  if (!r) return '·';
  if (r.outcome === 'failed') return 'FAIL';
  // xtcp cells show the time to the direct path; stcp cells the time to move both directions.
  const v = r.outcome === 'direct' && r.directMs !== null ? r.directMs : r.totalMs;
  const t = v === null ? '?' : `${(v / 1000).toFixed(1)}s`;
  return `${r.outcome} ${t}${r.asExpected ? '' : '!'}`;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ms = (v: number | null): string => (v === null ? '?' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

export function contradictions(run: MatrixRun): PairResult[] {
  return run.results.filter((r) => !r.asExpected);
}

export function formatTable(run: MatrixRun): string {
  const by = new Map(run.results.map((r) => [`${r.provider}->${r.visitor}`, r]));
  const rowW = Math.max(22, ...run.rows.map((r) => r.length + 2));
  const lines: string[] = [];
  const xtcp = run.mode === 'xtcp';
  lines.push(
    `${xtcp ? 'direct (xtcp)' : 'relay (stcp)'} matrix, kernel lane: ${run.sizeBytes / (1024 * 1024)} MiB each way per pair, SHA-256 checked both ways`,
  );
  lines.push(
    xtcp
      ? 'rows: provider behind; columns: visitor behind; cell: path of the connection and time from session up to the direct path (relay: time to move both directions)'
      : 'rows: provider behind; columns: visitor behind; cell: outcome and time to move both directions',
  );
  lines.push('');
  lines.push('provider ↓  visitor →'.padEnd(rowW) + run.cols.map((c) => SHORT[c].padEnd(COL)).join('').trimEnd());
  for (const row of run.rows) {
    lines.push(row.padEnd(rowW) + run.cols.map((c) => cellText(by.get(`${row}->${c}`)).padEnd(COL)).join('').trimEnd());
  }
  return lines.join('\n');
}

export function formatSummary(run: MatrixRun): string {
  const lines: string[] = [];
  const ok = run.results.filter((r) => r.asExpected).length;
  const bad = contradictions(run);
  const verified = run.results.reduce((n, r) => n + r.bytesUp + r.bytesDown, 0);
  const done = run.results.filter((r) => r.outcome !== 'failed');
  lines.push(
    `${run.results.length} pairs on ${run.sites.length} sites (lab ${run.runId}): ${ok} as expected, ${bad.length} contradict the expected table` +
      (run.mode === 'xtcp'
        ? ' (netsim/matrix/expected.ts, direct column: "direct" must go direct, "relay" must relay, "birthday" may do either; all byte-exact)'
        : ' (netsim/matrix/expected.ts: every pair must relay, byte-exact)'),
  );
  lines.push(
    `median: session set-up ${ms(median(done.flatMap((r) => (r.setupMs === null ? [] : [r.setupMs]))))}, ` +
      `first byte ${ms(median(done.flatMap((r) => (r.ttfbMs === null ? [] : [r.ttfbMs]))))}, ` +
      `complete ${ms(median(done.flatMap((r) => (r.totalMs === null ? [] : [r.totalMs]))))}; ` +
      `${(verified / (1024 * 1024)).toFixed(0)} MiB verified; build ${ms(run.buildMs)}, whole run ${ms(run.totalMs)}`,
  );
  for (const r of bad) {
    lines.push(
      `  CONTRADICTS ${r.provider} -> ${r.visitor}: expected ${r.expected}, got ${r.outcome}` +
        ` (up ${r.upVerified ? 'ok' : 'NOT verified'}, down ${r.downVerified ? 'ok' : 'NOT verified'})${r.error ? `: ${r.error}` : ''}`,
    );
  }
  if (run.mode === 'xtcp') {
    const d = run.results.filter((r) => r.outcome === 'direct');
    lines.push(
      `direct: ${d.length} of ${run.results.length} pairs; time to direct median ${ms(median(d.flatMap((r) => (r.directMs === null ? [] : [r.directMs]))))}, ` +
        `max ${ms(d.reduce<number | null>((m, r) => (r.directMs === null ? m : Math.max(m ?? 0, r.directMs)), null))}`,
    );
  } else {
    const direct = new Map<DirectExpectation, number>();
    for (const r of run.results) {
      const d = expectedFor(r.provider, r.visitor).direct;
      direct.set(d, (direct.get(d) ?? 0) + 1);
    }
    lines.push(`direct column of the expected table (run with --mode xtcp): ` + [...direct].map(([k, n]) => `${n} ${k}`).join(', '));
  }
  if (run.leftNamespaces.length) lines.push(`WARNING: namespaces left after teardown: ${run.leftNamespaces.join(', ')}`);
  return lines.join('\n');
}

/** A side-by-side figure table: burrow next to a peer tool, ratio burrow / peer. */

/** One figure of a comparison; `null` when that side could not be measured. */
export interface Row {
  figure: string;
  burrow: number | null;
  peer: number | null;
  better: 'higher' | 'lower';
  /** Issue 11's target for this figure: burrow at least as good as the peer (ratio >= 1 for higher-is-better, <= 1 for lower). */
  target?: boolean;
}

export interface Comparison {
  title: string;
  peer: string;
  rows: Row[];
  /** Why the peer side is missing, if it is. */
  skipped?: string;
  notes: string[];
}

/** What one tunnel did in one measured transfer. */
export interface Measured {
  mbps: number;
  /** CPU seconds per role over the transfer. */
  cpu: Record<string, number>;
  bytes: number;
}

/** CPU seconds per GB of `roles` (summed), or null without a measurement. */
export function cpuPerGb(m: Measured | null, roles: readonly string[]): number | null {
  if (m === null) return null;
  return roles.reduce((s, r) => s + (m.cpu[r] ?? 0), 0) / (m.bytes / 1e9);
}

/**
 * The rows every comparison prints: throughput, CPU of both peers, and the middle box's CPU when there is one.
 * Throughput always has a target (burrow >= peer); CPU per GB only where the issue sets one (`cpuTarget`: vs nebula).
 */
export function standardRows(ours: Measured | null, theirs: Measured | null, middle: string | null, cpuTarget = false): Row[] {
  const rows: Row[] = [
    { figure: 'MB/s', burrow: ours?.mbps ?? null, peer: theirs?.mbps ?? null, better: 'higher', target: true },
    {
      figure: 'CPU s/GB, both peers', burrow: cpuPerGb(ours, ['visitor', 'provider']), peer: cpuPerGb(theirs, ['visitor', 'provider']),
      better: 'lower', target: cpuTarget,
    },
    { figure: 'CPU s/GB, visitor', burrow: cpuPerGb(ours, ['visitor']), peer: cpuPerGb(theirs, ['visitor']), better: 'lower' },
    { figure: 'CPU s/GB, provider', burrow: cpuPerGb(ours, ['provider']), peer: cpuPerGb(theirs, ['provider']), better: 'lower' },
  ];
  if (middle !== null) rows.push({ figure: `CPU s/GB, ${middle}`, burrow: cpuPerGb(ours, ['relay']), peer: cpuPerGb(theirs, ['relay']), better: 'lower' });
  return rows;
}

const num = (n: number | null, digits: number): string => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(digits));

export function printComparison(c: Comparison): void {
  console.log(`\n### ${c.title}`);
  console.log(`peer tool: ${c.peer}`);
  for (const n of c.notes) console.log(`note: ${n}`);
  if (c.skipped !== undefined) console.log(`skipped: ${c.skipped}`);
  const label = (r: Row): string => `${r.figure} (${r.better === 'higher' ? 'higher' : 'lower'} is better)`;
  const width = Math.max(...c.rows.map((r) => label(r).length)) + 2;
  console.log(`${'figure'.padEnd(width)}${'burrow'.padStart(9)}${'peer'.padStart(9)}${'burrow/peer'.padStart(13)}`);
  for (const r of c.rows) {
    const digits = r.figure === 'MB/s' ? 1 : 2;
    const ratio = r.burrow !== null && r.peer !== null && r.peer > 0 ? `${(r.burrow / r.peer).toFixed(2)}x` : '-';
    console.log(`${label(r).padEnd(width)}${num(r.burrow, digits).padStart(9)}${num(r.peer, digits).padStart(9)}${ratio.padStart(13)}`);
  }
  for (const r of c.rows) {
    if (r.target !== true || r.burrow === null || r.peer === null || !(r.peer > 0)) continue;
    const ratio = r.burrow / r.peer;
    const met = r.better === 'higher' ? ratio >= 1 : ratio <= 1;
    console.log(`target: ${r.figure} burrow/peer ${r.better === 'higher' ? '>=' : '<='} 1.00x -> ${met ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`);
  }
}

/** One table of the headline figures of every comparison: throughput and CPU per GB of both peers and the middle box. */
export function printSummary(done: readonly { name: string; c: Comparison }[]): void {
  const rows: { label: string; r: Row }[] = [];
  for (const { name, c } of done) {
    for (const r of c.rows) {
      if (r.figure === 'CPU s/GB, visitor' || r.figure === 'CPU s/GB, provider') continue;
      rows.push({ label: `${name}: ${r.figure}`, r });
    }
  }
  if (rows.length === 0) return;
  const width = Math.max(...rows.map((x) => x.label.length)) + 2;
  console.log('\n### summary (ratio = burrow / peer; MB/s: higher is better, CPU s/GB: lower is better)');
  console.log(`${'figure'.padEnd(width)}${'burrow'.padStart(9)}${'peer'.padStart(9)}${'burrow/peer'.padStart(13)}`);
  for (const { label, r } of rows) {
    const digits = r.figure === 'MB/s' ? 1 : 2;
    const ratio = r.burrow !== null && r.peer !== null && r.peer > 0 ? `${(r.burrow / r.peer).toFixed(2)}x` : '-';
    console.log(`${label.padEnd(width)}${num(r.burrow, digits).padStart(9)}${num(r.peer, digits).padStart(9)}${ratio.padStart(13)}`);
  }
}

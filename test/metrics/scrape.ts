/** Reading a Prometheus text scrape in tests, and checking it with Debian's promtool. */
import { spawnSync } from 'node:child_process';
import type { BurrowProcess } from '../support/cli.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (comments skipped). Label values here never hold quotes or commas. */
export function parseScrape(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').split(',').filter((p) => p !== '')) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="(.*)"$/.exec(pair);
      if (lm === null) throw new Error(`bad label in: ${line}`);
      labels[lm[1] ?? ''] = lm[2] ?? '';
    }
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of every sample of `name` whose labels include `labels`; undefined when none matches. */
export function total(samples: readonly Sample[], name: string, labels: Record<string, string | RegExp> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? ''))));
  return hits.length === 0 ? undefined : hits.reduce((n, s) => n + s.value, 0);
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

/** The metrics URL a CLI process logged (`metrics-listening`). */
export async function metricsUrl(p: BurrowProcess): Promise<string> {
  const e = await p.waitEvent('metrics-listening');
  if (typeof e.metrics !== 'string') throw new Error(`${p.name}: metrics-listening without a URL`);
  return e.metrics;
}

/** Why promtool cannot run here, or null when it can. */
export function promtoolMissing(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? `promtool is not installed (Debian package "prometheus"): ${r.error.message}` : null;
}

/** `promtool check metrics` on a scrape (stdin): its exit status and everything it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * `npm run bench -- cluster-connect`: connect -> first byte when the
 * provider and the visitor are on two nodes of a cluster (provider on n1,
 * visitor on n2, one Redis), next to both on one node, in the same run on
 * the same machine: real CLI processes on loopback, fresh TCP connections
 * at the visitor's port to a service that speaks first. stcp (relay) and
 * xtcp (punched path). Also each visitor's session setup (login to session
 * up), which is where the nodes talk over the bus.
 * Target (issue 14): two nodes within 5 ms of one.
 */
import { freePort, percentile } from './lib/tcp.js';
import { startCliLab, type CliLab } from './lib/cli-lab.js';
import { firstByte, startBanner } from './lib/first-byte.js';
import { LocalRedis, redisMissing } from '../netsim/redis-server.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** Fresh visitors per configuration: each one's session setup is what crosses the bus. */
const SETUPS = Number(process.env.BENCH_SETUPS ?? 10);
const TARGET_MS = 5;

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function connections(lab: CliLab, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await firstByte(lab.port));
  return out;
}

export async function clusterConnect(): Promise<void> {
  console.log(`\n## Connect -> first byte across two cluster nodes vs one node, ${CONNECTIONS} fresh connections each, real CLI processes on loopback`);
  const missing = redisMissing();
  if (missing !== null) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const banner = await startBanner();
  const redis = new LocalRedis(await freePort());
  try {
    await redis.start();
    for (const mode of ['stcp', 'xtcp'] as const) {
      const one = await startCliLab(banner.port, mode);
      let two: CliLab | null = null;
      try {
        two = await startCliLab(banner.port, mode, { redis: redis.url });
        // Warm both (JIT, the mux's first streams), then alternate so drift hits both alike.
        await connections(one, 5);
        await connections(two, 5);
        const a: number[] = [];
        const b: number[] = [];
        for (let i = 0; i < CONNECTIONS; i++) {
          a.push(...(await connections(one, 1)));
          b.push(...(await connections(two, 1)));
        }
        const row = (label: string, xs: number[], lab: CliLab) =>
          `${mode} ${label.padEnd(36)} p50 ${fmt(percentile(xs, 50)).padStart(6)} ms   p90 ${fmt(percentile(xs, 90)).padStart(6)} ms   (session setup ${fmt(lab.setupMs, 0)} ms, up via ${lab.relayVia ?? '?'})`;
        console.log(row('one node', a, one));
        console.log(row('two nodes (provider n1, visitor n2)', b, two));
        const delta = percentile(b, 50) - percentile(a, 50);
        console.log(`${mode} two nodes - one node: p50 ${delta >= 0 ? '+' : ''}${fmt(delta)} ms (target <= ${TARGET_MS} ms)`);
        // A new visitor's first connection also waits for its session: time that setup, alternating again.
        const sa: number[] = [];
        const sb: number[] = [];
        for (let i = 0; i < SETUPS; i++) {
          sa.push(await one.freshSetupMs());
          sb.push(await two.freshSetupMs());
        }
        const setupDelta = percentile(sb, 50) - percentile(sa, 50);
        console.log(
          `${mode} session setup of a fresh visitor (${SETUPS} each): one node p50 ${fmt(percentile(sa, 50), 0)} ms p90 ${fmt(percentile(sa, 90), 0)} ms; ` +
            `two nodes p50 ${fmt(percentile(sb, 50), 0)} ms p90 ${fmt(percentile(sb, 90), 0)} ms; two - one: p50 ${setupDelta >= 0 ? '+' : ''}${fmt(setupDelta, 0)} ms (target <= ${TARGET_MS} ms)`,
        );
      } finally {
        one.stop();
        two?.stop();
      }
    }
  } finally {
    banner.close();
    await redis.stop();
  }
}

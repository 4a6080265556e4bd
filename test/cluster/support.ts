import { Logger } from '../../src/log/logger.js';
import { ClusterNode, type ClusterNodeOptions } from '../../rendezvous/cluster/node.js';
import type { ClusterTimers } from '../../rendezvous/cluster/timers.js';

export const SECRET = 'test-cluster-secret-0123456789abcdef';

/** Short timers, so lapses and refreshes happen within a test's seconds. */
export const FAST_TIMERS: Partial<ClusterTimers> = {
  leaseTtlMs: 1500,
  leaseRefreshMs: 500,
  leaseRetryMs: 200,
  claimTtlMs: 5000,
  claimRefreshMs: 1000,
  lookupCacheMs: 200,
  redisCommandTimeoutMs: 300,
  redisReconnectMaxMs: 200,
};

const quiet = new Logger({ sink: { write: () => {} } });

export function makeNode(redis: string, nodeId: string, extra: Partial<ClusterNodeOptions> = {}): ClusterNode {
  return new ClusterNode({ redis, nodeId, advertise: `127.0.0.1:${7000 + nodeId.length}`, secret: SECRET, timers: FAST_TIMERS, logger: quiet, ...extra });
}

/** Polls `cond` every 25 ms until it holds; throws after `timeoutMs`. Returns the time it took. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

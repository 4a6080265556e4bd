/**
 * The scenarios by name, with the sizes `npm test` uses and the full ones
 * the runner uses, so the test and run.ts run the same code.
 */
import { conntrackFlushScenario, describeFlush } from './conntrack-flush.js';
import { describeIdle, idleScenario } from './idle.js';
import type { Verdict } from './observe.js';
import { describeKill, rendezvousKillScenario } from './rendezvous-kill.js';
import type { ScenarioLab } from './scenario-lab.js';
import { describeSpray, sprayScenario } from './spray.js';

export const MIB = 1024 * 1024;

export type ScenarioName = 'spray' | 'rendezvous-kill' | 'idle' | 'idle-tcp' | 'conntrack-flush';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['spray', 'rendezvous-kill', 'idle', 'idle-tcp', 'conntrack-flush'];
/** What `npm test` runs: all but idle-tcp (an extra 15-20 s per mode; run.ts runs it). */
export const TEST_SCENARIOS: readonly ScenarioName[] = ['spray', 'rendezvous-kill', 'idle', 'conntrack-flush'];

export interface ScenarioOutcome {
  name: ScenarioName;
  verdict: Verdict;
  /** Human-readable lines: what happened, with the numbers. */
  lines: string[];
  /** The scenario's full result (JSON-able). */
  result: object;
  ms: number;
}

export interface SuiteSizes {
  /** Bytes each way for the transfers that something breaks mid-way. */
  transferBytes: number;
}

/** `npm test`: small enough for CI; big enough that the break lands mid-transfer. */
export const TEST_SIZES: SuiteSizes = { transferBytes: 24 * MIB };
/** netsim/scenarios/run.ts: the full payload. */
export const FULL_SIZES: SuiteSizes = { transferBytes: 64 * MIB };

/**
 * Bound on a new connection working after conntrack -F. A provider whose NAT
 * forgot its control connection is not told: the rendezvous's next packet
 * meets the NAT router, which resets the rendezvous's end, and the provider
 * learns of it only from its control channel's silence timeout (35 s after
 * the last rendezvous ping). Meanwhile the visitor's retries back off up to
 * 10 s. So: 35 s + 10 s + login and session set-up, with a margin.
 * (Measured: 34.6-39.9 s; a peer-side heartbeat would make it ~1 s.)
 */
export const FLUSH_RECOVERY_BOUND_MS = 55_000;

export async function runScenario(name: ScenarioName, sl: ScenarioLab, sizes: SuiteSizes): Promise<ScenarioOutcome> {
  const t0 = Date.now();
  const done = (verdict: Verdict, lines: string[], result: object): ScenarioOutcome => ({ name, verdict, lines, result, ms: Date.now() - t0 });
  switch (name) {
    case 'spray': {
      const r = await sprayScenario(sl, { size: sizes.transferBytes });
      return done(r.verdict, describeSpray(r), r);
    }
    case 'rendezvous-kill': {
      const r = await rendezvousKillScenario(sl, { size: sizes.transferBytes });
      return done(r.verdict, describeKill(r), r);
    }
    case 'idle': {
      const r = await idleScenario(sl);
      return done(r.verdict, describeIdle(r), r);
    }
    case 'idle-tcp': {
      const r = await idleScenario(sl, { tcpLifetimeS: 5 });
      return done(r.verdict, describeIdle(r), r);
    }
    case 'conntrack-flush': {
      const r = await conntrackFlushScenario(sl, { size: sizes.transferBytes, recoveryBoundMs: FLUSH_RECOVERY_BOUND_MS });
      return done(r.verdict, describeFlush(r), r);
    }
  }
}

/**
 * The kernel lane's scenarios by name (../../scenarios/spec.ts says what
 * each is and must do), with the sizes `npm test` uses and the full ones the
 * runner uses, so the test and run.ts run the same code.
 */
import { conntrackFlushScenario, describeFlush } from './conntrack-flush.js';
import { describeIdle, idleScenario } from './idle.js';
import { describeKill, rendezvousKillScenario } from './rendezvous-kill.js';
import type { ScenarioLab } from './scenario-lab.js';
import { describeSpray, sprayScenario } from './spray.js';
import { FLUSH_RECOVERY_BOUND_MS, MIB, faultOf, notApplicable, type ScenarioName as AnyScenarioName } from '../../scenarios/spec.js';
import type { ScenarioOutcome, ScenarioReport, Verdict } from '../../scenarios/outcome.js';

export { FLUSH_RECOVERY_BOUND_MS, MIB };

/** The scenarios this lane runs (the spec's others say why not, see notApplicable). */
export type ScenarioName = 'spray' | 'rendezvous-kill' | 'idle' | 'idle-tcp' | 'conntrack-flush';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['spray', 'rendezvous-kill', 'idle', 'idle-tcp', 'conntrack-flush'];
/** What `npm test` runs: all but idle-tcp (an extra 15-20 s per mode; run.ts runs it). */
export const TEST_SCENARIOS: readonly ScenarioName[] = ['spray', 'rendezvous-kill', 'idle', 'conntrack-flush'];

export type { ScenarioOutcome };

export interface SuiteSizes {
  /** Bytes each way for the transfers that something breaks mid-way. */
  transferBytes: number;
}

/** `npm test`: small enough for CI; big enough that the break lands mid-transfer. */
export const TEST_SIZES: SuiteSizes = { transferBytes: 24 * MIB };
/** `burrow netsim scenarios`: the full payload. */
export const FULL_SIZES: SuiteSizes = { transferBytes: 64 * MIB };

function isKernelScenario(name: AnyScenarioName): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

export async function runScenario(name: ScenarioName, sl: ScenarioLab, sizes: SuiteSizes): Promise<ScenarioOutcome> {
  const t0 = Date.now();
  const done = (verdict: Verdict, lines: string[], result: object): ScenarioOutcome => ({ name, lane: 'kernel', mode: sl.mode, verdict, lines, result, ms: Date.now() - t0 });
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
      const r = await idleScenario(sl, { tcpLifetimeS: faultOf('idle-tcp', 'idle').tcpLifetimeS ?? 5 });
      return done(r.verdict, describeIdle(r), r);
    }
    case 'conntrack-flush': {
      const r = await conntrackFlushScenario(sl, { size: sizes.transferBytes, recoveryBoundMs: FLUSH_RECOVERY_BOUND_MS });
      return done(r.verdict, describeFlush(r), r);
    }
  }
}

/** Any scenario of the spec: run here, or reported as not applicable in this lane, with the spec's reason. */
export async function reportScenario(name: AnyScenarioName, sl: ScenarioLab, sizes: SuiteSizes): Promise<ScenarioReport> {
  const why = notApplicable(name, 'kernel', sl.mode);
  if (why !== undefined) return { name, lane: 'kernel', mode: sl.mode, notApplicable: why };
  if (!isKernelScenario(name)) return { name, lane: 'kernel', mode: sl.mode, notApplicable: 'the spec runs it here, but this lane has no runner for it' };
  return runScenario(name, sl, sizes);
}

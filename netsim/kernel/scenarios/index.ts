/** The kernel lane's runner for the scenarios of ../../scenarios/spec.ts: things that break mid-session, behind real NATs. See README.md. */
export { ScenarioLab, RV_PORT, TARGET_PORT } from './scenario-lab.js';
export type { Pair, ScenarioLabOptions } from './scenario-lab.js';
export { modeSupport, BURROW_ENTRY, STREAM_ENTRY } from './procs.js';
export type { ScenarioMode, ModeSupport } from './procs.js';
export { conntrackFlushScenario, describeFlush, FLUSH_EXPECTATION } from './conntrack-flush.js';
export type { FlushResult, FlushRound, FlushOptions } from './conntrack-flush.js';
export { rendezvousKillScenario, describeKill, KILL_EXPECTATION } from './rendezvous-kill.js';
export type { KillResult, KillOptions } from './rendezvous-kill.js';
export { sprayScenario, describeSpray, SPRAY_EXPECTATION } from './spray.js';
export type { SprayResult, SprayOptions } from './spray.js';
export { idleScenario, describeIdle, IDLE_EXPECTATION } from './idle.js';
export type { IdleResult, IdleOptions } from './idle.js';
export type { Verdict, Recovery, Noticed } from './observe.js';
export { runScenario, reportScenario, SCENARIO_NAMES, TEST_SCENARIOS, TEST_SIZES, FULL_SIZES, FLUSH_RECOVERY_BOUND_MS, MIB } from './suite.js';
export type { ScenarioName, ScenarioOutcome, SuiteSizes } from './suite.js';
export { runKernelScenarios, runScenariosCli } from './run.js';

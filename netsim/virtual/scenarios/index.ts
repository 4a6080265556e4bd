/**
 * The in-process lane's runner for the scenarios of ../../scenarios/spec.ts
 * (suite.ts), and the scenarios themselves with the direct path (xtcp):
 * things that break mid-session, on the fake clock, repeatable per seed.
 * Each is bounded in virtual time. See netsim/virtual/README.md.
 */
export { eventLine, PATH_EVENTS, MIB } from './common.js';
export type { VirtualScenarioBase } from './common.js';
export { virtualFlushScenario } from './flush.js';
export type { VirtualFlushOptions, VirtualFlushResult } from './flush.js';
export { virtualRendezvousGoneScenario } from './rendezvous-gone.js';
export type { VirtualRendezvousGoneOptions, VirtualRendezvousGoneResult } from './rendezvous-gone.js';
export { virtualSprayScenario } from './spray.js';
export type { VirtualSprayOptions, VirtualSprayResult } from './spray.js';
export { virtualIdleScenario } from './idle.js';
export type { VirtualIdleOptions, VirtualIdleResult, IdleRequest } from './idle.js';
export { virtualSameSiteScenario } from './same-site.js';
export type { VirtualSameSiteOptions, VirtualSameSiteResult } from './same-site.js';
export { runVirtualScenario, VIRTUAL_SUITE_SIZES } from './suite.js';
export type { VirtualSuiteOptions } from './suite.js';
export { runVirtualScenarios } from './run.js';

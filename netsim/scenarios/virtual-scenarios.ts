/**
 * The in-process (virtual) lane's scenarios with the direct path (xtcp):
 * things that break mid-session, on the fake clock, repeatable per seed.
 * Each is bounded in virtual time. See netsim/virtual/README.md.
 */
export { eventLine, PATH_EVENTS, MIB } from './virtual-common.js';
export type { VirtualScenarioBase } from './virtual-common.js';
export { virtualFlushScenario } from './virtual-flush.js';
export type { VirtualFlushOptions, VirtualFlushResult } from './virtual-flush.js';
export { virtualRendezvousGoneScenario } from './virtual-rendezvous-gone.js';
export type { VirtualRendezvousGoneOptions, VirtualRendezvousGoneResult } from './virtual-rendezvous-gone.js';
export { virtualSprayScenario } from './virtual-spray.js';
export type { VirtualSprayOptions, VirtualSprayResult } from './virtual-spray.js';
export { virtualIdleScenario } from './virtual-idle.js';
export type { VirtualIdleOptions, VirtualIdleResult, IdleRequest } from './virtual-idle.js';
export { virtualSameSiteScenario } from './virtual-same-site.js';
export type { VirtualSameSiteOptions, VirtualSameSiteResult } from './virtual-same-site.js';

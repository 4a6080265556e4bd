/** NAT behaviour discovery against a STUN server. See README.md. */
export { discoverNat, type DiscoveryOptions } from './discovery.js';
export { analyse, portResult, type Observations } from './analyse.js';
export { localAddressTowards } from './local-address.js';
export { isSequentialStep, MAX_SEQUENTIAL_PORT_STEP } from './port-step.js';
export { BEHAVIOURS } from './report.js';
export type { Behaviour, BehaviourResult, HairpinResult, NatReport, PortAllocationResult, PortSample } from './report.js';

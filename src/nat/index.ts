/** NAT behaviour discovery against a STUN server. See README.md. */
export { discoverNat, type DiscoveryOptions } from './discovery.js';
export { analyse, portResult, type Observations } from './analyse.js';
export { localAddressTowards } from './local-address.js';
export { isSequentialStep, MAX_SEQUENTIAL_PORT_STEP } from './port-step.js';
export { BEHAVIOURS } from './report.js';
export type { Behaviour, BehaviourResult, HairpinResult, NatReport, PortAllocationResult, PortSample } from './report.js';
export { selectIpv6Addresses, ipv6Kind, flattenInterfaces, MAX_IPV6_PER_PREFIX, MAX_IPV6_ADDRESSES } from './ipv6-addresses.js';
export type { HostIpv6Address, InterfaceAddress, Ipv6Kind, Ipv6Selection } from './ipv6-addresses.js';
export { probeIpv6, type Ipv6ProbeOptions } from './ipv6-probe.js';
export { ipv6Report, type Ipv6Observations } from './ipv6-report.js';
export { probePortMapping, type PortMapProbeOptions } from './portmap-probe.js';
export { portMappingReport, skippedPortMapping, type PortMapObservations } from './portmap-report.js';
export { NAT_CHECK_TIMERS } from './timers.js';
export type { Ipv6Report, NatCheckReport, PortMappingReport } from './report.js';

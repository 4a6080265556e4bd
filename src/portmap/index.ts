/** Router port mapping (NAT-PMP, PCP, UPnP IGD): see README.md. */
export { PortMapper, type PortMapperOptions } from './port-mapper.js';
export { PortMapperCore, PROTOCOL_PREFERENCE, PROTOCOL_NAMES, epochSaysRestarted } from './mapper-core.js';
export type { PortMapProtocol, PortMapEvent, PortMapAction, Grant, MapperCoreOptions } from './mapper-core.js';
export { PORTMAP_TIMERS } from './timers.js';
export { checkExternalAddress, type ExternalAddressVerdict } from './ipv4.js';
export { readDefaultGateway, localAddressToward, type GatewayInfo } from './local-network.js';
export { UpnpActionError, UpnpErrorCode } from './soap.js';

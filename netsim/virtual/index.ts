export { VirtualNetwork, VirtualHost, VirtualRouter, VirtualNat, VirtualNode, VirtualInterface } from './network.js';
export type { VirtualNetworkOptions, NatSpec, NatIpv6Options, DropCounts, HostStats } from './network.js';
export { VirtualUdpSocket, type VirtualSocketStats } from './socket.js';
export { NatTable, resolveNatOptions } from './nat.js';
export type {
  NatOptions,
  ResolvedNatOptions,
  MappingBehaviour,
  FilteringBehaviour,
  PortAllocation,
  NatMapping,
  OutboundDecision,
  InboundDecision,
  NatStateEvent,
} from './nat.js';
export { natProfile, NAT_PROFILE_NAMES, type NatProfile, type NatProfileName, type NatProfileVariant } from './profiles.js';
export { BindingServer, classifyNat, waitFor, CHANGE_ADDRESS, CHANGE_PORT } from './classifier.js';
export type { NatClassification, ClassifyOptions } from './classifier.js';
export { buildTopology, labSite, LAB_PROFILE_NAMES, SERVER_ADDRESSES, SERVER_ADDRESSES6 } from './topology.js';
export { Ipv6Firewall, type FirewallOptions, type FirewallInbound, type FirewallOutbound, type FirewallEvent } from './firewall6.js';
export type { Ipv6Mode } from '../kernel/ipv6.js';
export type { Topology, TopologyOptions, Site, SiteSpec, LabProfileName } from './topology.js';
export { Trace, type TraceEvent, type TraceKind } from './trace.js';
export { HEADER_BYTES, HEADER_BYTES_V6, MAX_PAYLOAD, MAX_PAYLOAD_V6, DEFAULT_TTL } from './packet.js';

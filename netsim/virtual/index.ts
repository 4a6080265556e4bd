export { VirtualNetwork, VirtualHost, VirtualRouter, VirtualNat, VirtualNode, VirtualInterface } from './network.js';
export type { VirtualNetworkOptions, NatSpec, DropCounts, HostStats } from './network.js';
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
export { buildTopology, labSite, LAB_PROFILE_NAMES, SERVER_ADDRESSES } from './topology.js';
export type { Topology, TopologyOptions, Site, SiteSpec, LabProfileName } from './topology.js';
export { Trace, type TraceEvent, type TraceKind } from './trace.js';
export { HEADER_BYTES, MAX_PAYLOAD, DEFAULT_TTL } from './packet.js';

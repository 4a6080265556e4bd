/** The netsim kernel lane: real kernel NATs in network namespaces. See README.md. */
export { Lab, LabProcess, NatClassificationError, LabClosedError } from './lab.js';
export type { LabNode, ServerNode, NatSite, LabOptions, AddSiteOptions, SpawnOptions, NodeKind } from './lab.js';
export { PROFILES, PROFILE_NAMES, getProfile } from './profiles.js';
export type { NatProfile, ProfileName, ProfileBehaviour, NatRulesContext } from './profiles.js';
export { parseStunOutput, compareVerdict, describeExpected, StunParseError } from './stun.js';
export type { StunVerdict, ExpectedVerdict } from './stun.js';
export { sweepStale, listNamespaces, destroyNamespace } from './cleanup.js';
export type { SweepResult } from './cleanup.js';
export { kernelLabSkipReason, INSTALL_HINT } from './prereq.js';
export { PROBE_SOURCE, lastJson } from './probe.js';
export type { UdpDatagram } from './probe.js';
export { CommandError, run } from './exec.js';
export { DEFAULT_PREFIX, runIdPid } from './names.js';
export { SERVER_IP6, SERVER_IP6_ALT, OUTSIDE_IP6, siteIpv6Plan, ipv6FirewallRules } from './ipv6.js';
export type { Ipv6Mode } from './ipv6.js';
export { NETNS_ETC, listNetnsEtc } from './netns-etc.js';
export type { LabName } from './netns-etc.js';

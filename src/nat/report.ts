/**
 * What NAT behaviour discovery reports: RFC 4787's terms, each with the
 * evidence and a plain-words explanation.
 */
import type { UdpEndpoint } from '../net/udp-socket.js';
import type { PortMapProtocol } from '../portmap/mapper-core.js';

/**
 * RFC 4787's three behaviours, for mapping (which public address:port a
 * socket gets) and filtering (who may send to it):
 * - endpoint-independent: the same for every remote address and port;
 * - address-dependent: depends on the remote IP address;
 * - address-and-port-dependent: depends on the remote IP address and port.
 */
export type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export const BEHAVIOURS: readonly Behaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];

export interface BehaviourResult {
  /** What the tests found; null when they could not tell (see `possible`). */
  behaviour: Behaviour | null;
  /** Every behaviour consistent with what was seen: one when conclusive, all three when not tested. */
  possible: Behaviour[];
  /** False when the test could not run at all. */
  tested: boolean;
  explanation: string;
}

export interface PortSample {
  /** Local port of a fresh socket. */
  local: number;
  /** The public port the server saw. */
  mapped: number;
}

export interface PortAllocationResult {
  kind: 'preserving' | 'sequential' | 'random' | 'unknown';
  /** For 'sequential': the difference between consecutive new mappings' ports. */
  step?: number;
  /** Fresh sockets, one after the other: local and public port. */
  samples: PortSample[];
  explanation: string;
}

export interface HairpinResult {
  /** null = not applicable (no NAT) or not tested. */
  works: boolean | null;
  explanation: string;
}

export interface NatReport {
  /** The STUN server asked (primary address and port). */
  server: UdpEndpoint;
  /** Where the server answers change requests from: its OTHER-ADDRESS, or the alternate port; null if none. */
  serverAlternate: UdpEndpoint | null;
  /** 'blocked' when the server never answered over UDP. */
  udp: 'ok' | 'blocked';
  /** Our socket's local address and port. */
  local: UdpEndpoint | null;
  /** Our public (server-reflexive) address and port, as the server saw it. */
  mapped: UdpEndpoint | null;
  /** 'none': the server saw our own address and port. */
  nat: 'none' | 'present' | 'unknown';
  mapping: BehaviourResult;
  filtering: BehaviourResult;
  portAllocation: PortAllocationResult;
  hairpin: HairpinResult;
  /** Tests that could not run, each with the reason. */
  notRun: string[];
  /** The whole result in a few plain sentences, with what it means for direct connections. */
  summary: string;
  durationMs: number;
}

/**
 * IPv6 next to the IPv4 report: the host's own addresses, and whether UDP
 * over IPv6 reaches the server (and what address it saw).
 */
export interface Ipv6Report {
  /**
   * 'ok': the server answered over IPv6. 'no-server-address': no IPv6 address
   * for the server (no AAAA record, or an IPv4 literal). 'no-address': no
   * global or unique-local address here and no route. 'no-route': addresses
   * but no route to the server. 'no-answer': sent, nothing came back.
   */
  status: 'ok' | 'no-server-address' | 'no-address' | 'no-route' | 'no-answer';
  /** Global unicast addresses of this host (bounded per /64; never link-local). */
  global: string[];
  /** Unique-local (fc00::/7) addresses of this host. */
  uniqueLocal: string[];
  /** What a peer could try: the global ones, or the unique-local ones when there is no global one. */
  usable: string[];
  /** The server's IPv6 address and port asked, if any. */
  server: UdpEndpoint | null;
  /** The local IPv6 address and port the probe was sent from. */
  local: UdpEndpoint | null;
  /** The server-reflexive address: what the server saw. */
  mapped: UdpEndpoint | null;
  /** True when the server saw another address than ours (NPTv6 or NAT66); null without an answer. */
  translated: boolean | null;
  /** The whole result in plain words. */
  summary: string;
  durationMs: number;
}

/** Whether the router would map a port for us (NAT-PMP, PCP, UPnP IGD), from one short probe. */
export interface PortMappingReport {
  /**
   * 'mapped': a protocol mapped a test port (deleted again before exit).
   * 'behind-nat': the router answered, but its external address says another
   * NAT sits above it. 'refused': every protocol that answered refused.
   * 'no-router': nothing answered. 'no-gateway': no gateway to ask.
   * 'timeout': no verdict in time. 'skipped': --no-portmap.
   */
  status: 'mapped' | 'behind-nat' | 'refused' | 'no-router' | 'no-gateway' | 'timeout' | 'skipped';
  /** The router asked. */
  gateway: string | null;
  /** Protocols that answered the probe, in preference order (PCP, NAT-PMP, UPnP IGD). */
  answered: PortMapProtocol[];
  /** The protocol that mapped the test port. */
  protocol: PortMapProtocol | null;
  /** The router's external address, when it told. */
  externalAddress: string | null;
  externalPort: number | null;
  /** The lifetime the router granted for the test mapping, in seconds. */
  lifetimeSeconds: number | null;
  /** True: another NAT sits above the router; null: cannot tell. */
  behindAnotherNat: boolean | null;
  /** What became of the test mapping at exit: 'deleted', the router's reason, or null when none was made. */
  release: string | null;
  /** The whole result in plain words. */
  summary: string;
  durationMs: number;
}

/** `burrow nat`'s whole report: the IPv4 NAT report's fields unchanged, plus the IPv6 and port-mapping sections. */
export interface NatCheckReport extends NatReport {
  ipv6: Ipv6Report;
  portMapping: PortMappingReport;
}

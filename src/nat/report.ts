/**
 * What NAT behaviour discovery reports: RFC 4787's terms, each with the
 * evidence and a plain-words explanation.
 */
import type { UdpEndpoint } from '../net/udp-socket.js';

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

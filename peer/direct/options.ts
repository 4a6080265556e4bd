import { DIRECT_TIMERS } from '../../src/direct/index.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import type { SessionNatInfo } from '../../src/punch/index.js';

/** What address discovery found for one attempt's socket. */
export interface DiscoveryResult {
  srflx: UdpEndpoint | null;
  nat: SessionNatInfo;
  detail: string;
  /** Smallest TTL that reached the rendezvous (null: unknown). */
  hops: number | null;
  /**
   * Why there is no server-reflexive address when it is not "UDP blocked"
   * (e.g. the rendezvous's name did not resolve); sent to the peer as the
   * offer's reason.
   */
  reason?: string;
}

/** Discovery that found no UDP path, with the words for the log and the peer (`reason` is omitted only for plain "no answer"). */
export function noUdp(detail: string, reason?: string, hops: number | null = null): DiscoveryResult {
  return { srflx: null, nat: { udp: false, mapping: 'unknown', allocation: 'unknown' }, detail, hops, ...(reason === undefined ? {} : { reason }) };
}

/** Learns a socket's server-reflexive address and mapping behaviour (STUN on the rendezvous's UDP ports). */
export interface ReflexiveDiscovery {
  discover(socket: UdpSocket, route: (handler: (data: Buffer, from: UdpEndpoint) => boolean) => void): Promise<DiscoveryResult>;
}

export interface DirectOptions {
  /** Probe random ports / open many sockets against one symmetric NAT. Default true. */
  birthday: boolean;
  /** Offer this machine's own interface addresses (LAN paths). Default true. */
  hostCandidates: boolean;
  /** Keepalive on an idle direct path. Default 15 s. */
  keepaliveMs: number;
  /** Give one punch attempt this long (birthday probing gets 3 s more). Default 3 s; a failed attempt is retried with fresh sockets. */
  punchTimeoutMs: number;
  /**
   * TTL of priming packets; 0 = none. 'auto' (default): one less than the hop
   * count to the rendezvous, within 2..4 — past our own NATs (a carrier NAT
   * too), short of the peer's.
   */
  primeTtl: number | 'auto';
  /** Extra sockets on the hard side of birthday probing. Default 256. */
  birthdaySockets: number;
  /** Random-port probes from the easy side of birthday probing. Default 2048, at 1000/s. */
  birthdayProbes: number;
  birthdayPerSecond: number;
  /** Wait this long before the first attempt (the session runs on the relay meanwhile). Default 0. */
  startDelayMs: number;
}

export const DEFAULT_DIRECT: DirectOptions = {
  birthday: true,
  hostCandidates: true,
  keepaliveMs: DIRECT_TIMERS.keepaliveInitialMs,
  punchTimeoutMs: DIRECT_TIMERS.punchTimeoutMs,
  primeTtl: 'auto',
  birthdaySockets: 256,
  birthdayProbes: 2048,
  birthdayPerSecond: 1000,
  startDelayMs: DIRECT_TIMERS.startDelayMs,
};

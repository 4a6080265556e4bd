/**
 * Where a virtual TCP connection would go: the links a SYN crosses from a
 * host to an address, walked with the same forwarding rules the UDP packets
 * follow (longest-prefix routes, NAT outside/inside, LAN bridging), and what
 * the far end sees as the source address (the outermost NAT's public address).
 *
 * TCP state in a NAT is not modelled packet by packet: a connection that a
 * host opens outwards always passes its NATs (conntrack keeps TCP flows for
 * days), and nothing from outside reaches inside a NAT (no port forwarding),
 * whatever the NAT's UDP profile says. UDP blocking does not touch TCP.
 * IPv6 is routed without translation (the far end sees the host's own
 * address); a site router's IPv6 firewall lets connections out and drops
 * SYNs from outside (RFC 6092's default).
 */
import type { LinkEnd } from '../link.js';
import { VirtualHost, VirtualNat, VirtualRouter, type VirtualInterface, type VirtualNode } from './network.js';

export type TcpRouteFailure =
  /** The origin host has no uplink. */
  | 'no-uplink'
  /** A router has no route to the address. */
  | 'no-route'
  /** Inbound to a NAT's public address: nothing is forwarded in (a SYN is silently dropped). */
  | 'nat-inbound'
  /** IPv6 inbound to a host behind a site router's firewall: the SYN is dropped. */
  | 'firewall-inbound'
  /** To a NAT's own public address from inside (TCP hairpinning is not modelled). */
  | 'hairpin'
  /** To a router's or NAT's own address: nothing listens there. */
  | 'to-router'
  /** Arrived at a host that does not have the address. */
  | 'not-for-host'
  /** A link on the way is down. */
  | 'link-down'
  | 'loop';

export interface TcpRoute {
  /** The destination host. */
  readonly host: VirtualHost;
  /** Link ends the SYN leaves through, in order (empty for loopback). */
  readonly ends: readonly LinkEnd[];
  /** The client's address as the destination sees it. */
  readonly sourceAsSeen: string;
  readonly loopback: boolean;
}

export type TcpRouteResult = { ok: true; route: TcpRoute } | { ok: false; reason: TcpRouteFailure; at: string };

const MAX_HOPS = 64;

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** The loopback address a connection to `address` comes from. */
function loopbackSource(address: string): string {
  return address === '::1' ? '::1' : '127.0.0.1';
}

/**
 * Walks from `from` (sending from `source`, one of its addresses) towards
 * `dst`. `ifaceOf` maps every link end to the interface that owns it.
 */
export function findTcpRoute(
  from: VirtualHost,
  source: string,
  dst: string,
  ifaceOf: (end: LinkEnd) => VirtualInterface | undefined,
): TcpRouteResult {
  if (isLoopback(dst) || from.addresses.includes(dst)) {
    return { ok: true, route: { host: from, ends: [], sourceAsSeen: isLoopback(dst) ? loopbackSource(dst) : source, loopback: true } };
  }
  if (from.uplink === null) return { ok: false, reason: 'no-uplink', at: from.name };
  const ends: LinkEnd[] = [];
  let src = source;
  let out: VirtualInterface = from.uplink;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    if (!out.end.up || !out.end.peer.up) return { ok: false, reason: 'link-down', at: out.name };
    ends.push(out.end);
    const arrived = ifaceOf(out.end.peer);
    if (arrived === undefined) return { ok: false, reason: 'no-route', at: out.name };
    const node: VirtualNode = arrived.node;
    if (node instanceof VirtualHost) {
      if (node.addresses.includes(dst)) return { ok: true, route: { host: node, ends, sourceAsSeen: src, loopback: false } };
      return { ok: false, reason: 'not-for-host', at: node.name };
    }
    if (node instanceof VirtualNat) {
      const v6 = dst.includes(':');
      if (arrived === node.outside) {
        if (v6 && node.firewall6 !== null && !node.addresses.includes(dst)) {
          const inward = node.lookup(dst);
          if (inward !== undefined && inward !== node.outside) return { ok: false, reason: 'firewall-inbound', at: node.name };
        }
        return { ok: false, reason: dst === node.publicAddress ? 'nat-inbound' : 'no-route', at: node.name };
      }
      if (dst === node.publicAddress) return { ok: false, reason: 'hairpin', at: node.name };
      if (node.addresses.includes(dst)) return { ok: false, reason: 'to-router', at: node.name };
      const next = node.lookup(dst);
      if (next === undefined) return { ok: false, reason: 'no-route', at: node.name };
      // Leaving through the outside: the NAT rewrites an IPv4 source (no NAT66).
      if (next === node.outside && !v6) src = node.publicAddress;
      out = next;
      continue;
    }
    if (node instanceof VirtualRouter) {
      if (node.addresses.includes(dst)) return { ok: false, reason: 'to-router', at: node.name };
      const next = node.lookup(dst);
      if (next === undefined) return { ok: false, reason: 'no-route', at: node.name };
      out = next;
      continue;
    }
    return { ok: false, reason: 'no-route', at: node.name };
  }
  return { ok: false, reason: 'loop', at: from.name };
}

/** Sum of the base one-way delays of the link ends (jitter is not modelled for TCP). */
export function pathDelayMs(ends: readonly LinkEnd[]): number {
  let d = 0;
  for (const e of ends) d += e.profile.delayMs ?? 0;
  return d;
}

/** The slowest serialisation rate on the path in bytes/s, or null when no link sets one. */
export function pathRate(ends: readonly LinkEnd[]): number | null {
  let rate: number | null = null;
  for (const e of ends) {
    const r = e.profile.bandwidthBytesPerSec ?? 0;
    if (r > 0) rate = rate === null ? r : Math.min(rate, r);
  }
  return rate;
}

import { isIP } from 'node:net';
import type { Scheduler } from '../../src/clock/scheduler.js';
import { dnsLookupAll, type HostLookup } from '../../src/net/dial-stream.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { SessionStun } from '../session-stun.js';
import type { DiscoveryResult, ReflexiveDiscovery } from './options.js';

/**
 * Resolves a host name to one IPv4 address; rejects with the resolver's error
 * (its `code`: ENOTFOUND, EAI_AGAIN...), or NO_IPV4 when the name has only
 * IPv6 addresses.
 */
export type ResolveIpv4 = (host: string) => Promise<string>;

/** The `code` of a lookup that found the name but no A record. */
export const NO_IPV4 = 'ENOIPV4';

/** The first IPv4 address of what `lookupAll` finds (one lookup: A and AAAA both, so "no A record" is told apart from "no such name"). */
export function ipv4From(lookupAll: HostLookup): ResolveIpv4 {
  return async (host) => {
    const all = await lookupAll(host);
    const v4 = all.find((a) => isIP(a) === 4);
    if (v4 !== undefined) return v4;
    throw Object.assign(new Error(`${host} has only IPv6 addresses (${all.join(', ')})`), { code: NO_IPV4 });
  };
}

export const dnsResolveIpv4: ResolveIpv4 = ipv4From(dnsLookupAll);

export interface RendezvousStunTarget {
  /** The rendezvous's host: an IP literal or a name. */
  host: string;
  /** Its STUN port; the alternate port is the next one. */
  port: number;
  extra?: readonly UdpEndpoint[];
}

/**
 * Address discovery against the rendezvous's STUN ports, when the rendezvous
 * may be given by name: UDP needs an address, so the name is resolved first,
 * on each attempt until it succeeds (a DNS hiccup at session start must not
 * rule the direct path out for good). A failed lookup is reported as what it
 * is, with the name and the resolver's code, not as "UDP blocked".
 */
export class RendezvousDiscovery implements ReflexiveDiscovery {
  private stun: SessionStun | null = null;

  constructor(
    private readonly target: RendezvousStunTarget,
    private readonly scheduler: Scheduler,
    private readonly random: (n: number) => Uint8Array,
    private readonly resolve: ResolveIpv4 = dnsResolveIpv4,
  ) {}

  async discover(socket: UdpSocket, route: (handler: (data: Buffer, from: UdpEndpoint) => boolean) => void): Promise<DiscoveryResult> {
    if (this.stun === null) {
      const { host, port, extra } = this.target;
      let address: string;
      // The direct path is IPv4 for now: an IPv6 rendezvous leaves it out (the relay works over IPv6).
      if (isIP(host) === 6) return noIpv4(host, `the rendezvous address ${host} is IPv6`);
      try {
        address = isIP(host) === 4 ? host : await this.resolve(host);
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code === NO_IPV4) return noIpv4(host, `the rendezvous name "${host}" has no IPv4 (A) record`);
        return dnsFailure(host, err);
      }
      this.stun = new SessionStun(
        { primary: { address, port }, alternatePort: { address, port: port + 1 }, ...(extra ? { extra } : {}) },
        this.scheduler,
        this.random,
      );
    }
    return this.stun.discover(socket, route);
  }
}

function noIpv4(host: string, why: string): DiscoveryResult {
  return {
    srflx: null,
    nat: { udp: false, mapping: 'unknown', allocation: 'unknown' },
    detail: `no IPv4 address for ${host}`,
    hops: null,
    reason: `${why}: the direct path needs IPv4 to reach the rendezvous's STUN port for now, so it is unavailable (the relay works over IPv6)`,
  };
}

function dnsFailure(host: string, err: unknown): DiscoveryResult {
  const raw = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  const code = typeof raw === 'string' && raw.length > 0 ? raw : 'UNKNOWN';
  const message = err instanceof Error ? err.message : String(err);
  return {
    srflx: null,
    nat: { udp: false, mapping: 'unknown', allocation: 'unknown' },
    detail: `DNS lookup of ${host} failed (${code})`,
    hops: null,
    reason: `DNS lookup of the rendezvous name "${host}" failed (${code}: ${message}): no address to send STUN to`,
  };
}

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Scheduler } from '../../src/clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { SessionStun } from '../session-stun.js';
import type { DiscoveryResult, ReflexiveDiscovery } from './options.js';

/** Resolves a host name to one IPv4 address; rejects with the resolver's error (its `code`: ENOTFOUND, EAI_AGAIN...). */
export type ResolveIpv4 = (host: string) => Promise<string>;

export const dnsResolveIpv4: ResolveIpv4 = async (host) => (await lookup(host, { family: 4 })).address;

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
      try {
        address = isIP(host) !== 0 ? host : await this.resolve(host);
      } catch (err) {
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

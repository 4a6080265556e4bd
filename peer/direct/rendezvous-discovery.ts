import { isIP } from 'node:net';
import type { Scheduler } from '../../src/clock/scheduler.js';
import { dnsLookupAll, type HostLookup } from '../../src/net/dial-stream.js';
import { addressFamily } from '../../src/net/ip.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { SessionStun } from '../session-stun.js';
import { noUdp, type DiscoveryResult, type ReflexiveDiscovery } from './options.js';
import { socketFamily } from './session-sockets.js';

export interface RendezvousStunTarget {
  /** The rendezvous's host: an IP literal or a name. */
  host: string;
  /** Its STUN port; the alternate port is the next one. */
  port: number;
  /** Extra STUN servers (each used by the session socket of its own family). */
  extra?: readonly UdpEndpoint[];
}

type Family = 4 | 6;
const NAMES: Record<Family, { family: string; record: string }> = {
  4: { family: 'IPv4', record: 'A' },
  6: { family: 'IPv6', record: 'AAAA' },
};

/**
 * Address discovery against the rendezvous's STUN ports, for the session
 * socket of each family (an IPv4 socket asks the rendezvous's IPv4 address,
 * an IPv6 socket its IPv6 one). The rendezvous may be given by name: UDP
 * needs an address, so the name is resolved first (A and AAAA in one
 * lookup), on each attempt until it succeeds (a DNS hiccup at session start
 * must not rule the direct path out for good). A failed lookup is reported as
 * what it is, with the name and the resolver's code, not as "UDP blocked";
 * a family the rendezvous has no address of is reported as that.
 */
export class RendezvousDiscovery implements ReflexiveDiscovery {
  private readonly stun = new Map<Family, SessionStun>();
  private addresses: Promise<string[]> | null = null;

  constructor(
    private readonly target: RendezvousStunTarget,
    private readonly scheduler: Scheduler,
    private readonly random: (n: number) => Uint8Array,
    private readonly lookup: HostLookup = dnsLookupAll,
  ) {}

  async discover(socket: UdpSocket, route: (handler: (data: Buffer, from: UdpEndpoint) => boolean) => void): Promise<DiscoveryResult> {
    const family = socketFamily(socket);
    let stun = this.stun.get(family);
    if (stun === undefined) {
      const { host, port, extra } = this.target;
      let all: string[];
      try {
        all = isIP(host) !== 0 ? [host] : await this.resolve(host);
      } catch (err) {
        return dnsFailure(host, err);
      }
      const address = all.find((a) => addressFamily(a) === family);
      if (address === undefined) return noAddress(host, family, isIP(host) !== 0);
      stun = new SessionStun(
        { primary: { address, port }, alternatePort: { address, port: port + 1 }, extra: (extra ?? []).filter((e) => addressFamily(e.address) === family) },
        this.scheduler,
        this.random,
      );
      this.stun.set(family, stun);
    }
    return stun.discover(socket, route);
  }

  /** One lookup shared by the families' sockets; a failed one is tried again by the next attempt. */
  private resolve(host: string): Promise<string[]> {
    if (this.addresses === null) {
      const pending = this.lookup(host);
      this.addresses = pending;
      pending.catch(() => {
        if (this.addresses === pending) this.addresses = null;
      });
    }
    return this.addresses;
  }
}

function noAddress(host: string, family: Family, literal: boolean): DiscoveryResult {
  const { family: name, record } = NAMES[family];
  const other = NAMES[family === 4 ? 6 : 4].family;
  const why = literal ? `the rendezvous address ${host} is not ${name}` : `the rendezvous name "${host}" has no ${name} (${record}) record`;
  return noUdp(
    `no ${name} address for ${host}`,
    `${why}: the direct path over ${name} needs the rendezvous's STUN port over ${name}, so it is unavailable (${other} and the relay are not affected)`,
  );
}

function dnsFailure(host: string, err: unknown): DiscoveryResult {
  const raw = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  const code = typeof raw === 'string' && raw.length > 0 ? raw : 'UNKNOWN';
  const message = err instanceof Error ? err.message : String(err);
  return noUdp(`DNS lookup of ${host} failed (${code})`, `DNS lookup of the rendezvous name "${host}" failed (${code}: ${message}): no address to send STUN to`);
}

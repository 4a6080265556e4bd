import type { Logger } from '../../src/log/logger.js';
import { addressFamily } from '../../src/net/ip.js';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { UdpSocket } from '../../src/net/udp-socket.js';
import { hostAddressesOf, ipv6SessionAddress, osHostAddresses } from './host-addresses.js';

/** The family a socket sends in: its bound address's (the IPv6 wildcard counts as IPv6). */
export function socketFamily(socket: UdpSocket): 4 | 6 {
  const bound = socket.localEndpoint().address;
  return bound === '::' || addressFamily(bound) === 6 ? 6 : 4;
}

/**
 * Where an attempt's session sockets come from and which host addresses each
 * offers: the primary socket on `bindAddress` (any IPv4 address by default),
 * an IPv6 one bound to this host's first global IPv6 address (so probes and
 * replies leave from the very address offered), and this host's addresses
 * (injected by the in-process lane, else the OS's).
 */
export class SessionSockets {
  constructor(
    private readonly udp: UdpSocketFactory,
    private readonly bindAddress: string | undefined,
    private readonly injected: (() => string[]) | undefined,
    private readonly log: Logger,
  ) {}

  /** The IPv6 session socket; null when this host has no usable IPv6 address, the user bound one address, or it cannot be opened. */
  async openIpv6(): Promise<UdpSocket | null> {
    if (this.bindAddress !== undefined) return null;
    const address = ipv6SessionAddress(this.all());
    if (address === null) return null;
    try {
      return await this.udp(address);
    } catch (err) {
      this.log.info('ipv6-socket-failed', { address, reason: err instanceof Error ? err.message : String(err) });
      return null;
    }
  }

  /** The host candidates of `socket`: the injected addresses of its family, or what its binding allows. */
  hostsOf(socket: UdpSocket): string[] {
    if (this.injected === undefined) return hostAddressesOf(socket, osHostAddresses());
    const family = socketFamily(socket);
    return this.injected().filter((a) => addressFamily(a) === family);
  }

  /** This host's addresses, both families. */
  private all(): string[] {
    return this.injected ? this.injected() : osHostAddresses();
  }
}

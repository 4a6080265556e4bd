/** An end host of the virtual network: its addresses (IPv4, IPv6 or both) and its UDP sockets. */
import { at } from '../../src/util/at.js';
import { BurrowError } from '../../src/errors.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { SeededRandom } from '../random.js';
import { canonicalIp, endpointText } from './ip6.js';
import { decodeHeader, encodePacket, familyOf, fnv1a, payloadOf } from './packet.js';
import { VirtualUdpSocket, type SendFailure, type SocketHost } from './socket.js';
import { VirtualNode, type VirtualInterface } from './node.js';
import type { VirtualNetwork } from './network.js';

/** Ephemeral ports, as Linux's default ip_local_port_range. */
const EPHEMERAL_MIN = 32768;
const EPHEMERAL_MAX = 60999;

export interface HostStats {
  /** Datagrams for a port nothing is bound to (a kernel would answer ICMP port unreachable). */
  noSocket: number;
  /** Datagrams addressed to an address this host does not have. */
  notForHost: number;
}

const ANY4 = '0.0.0.0';
const ANY6 = '::';
const wildcardOf = (family: 4 | 6): string => (family === 6 ? ANY6 : ANY4);

/**
 * An end host: one uplink, one or more addresses (IPv4, IPv6 or both; IPv6
 * kept in RFC 5952 form), UDP sockets. A host with no IPv4 address is
 * IPv6-only: a udp4 socket may bind 0.0.0.0 (as on Linux) but cannot send.
 */
export class VirtualHost extends VirtualNode implements SocketHost {
  /** Every address, in the order given (the first is `address`). */
  readonly addresses: readonly string[];
  /** The IPv4 addresses (empty on an IPv6-only host). */
  readonly addresses4: readonly string[];
  /** The IPv6 addresses (empty unless the host's site has IPv6). */
  readonly addresses6: readonly string[];
  uplink: VirtualInterface | null = null;
  readonly stats: HostStats = { noSocket: 0, notForHost: 0 };
  private readonly sockets = new Map<string, VirtualUdpSocket>();
  private readonly rng: SeededRandom;

  constructor(network: VirtualNetwork, name: string, addresses: readonly string[], rng: SeededRandom) {
    super(network, name);
    if (addresses.length === 0) throw new Error(`host ${name} needs an address`);
    for (const a of addresses) if (familyOf(a) === 0) throw new Error(`host ${name}: not an IP address: ${a}`);
    this.addresses = addresses.map(canonicalIp);
    this.addresses4 = this.addresses.filter((a) => familyOf(a) === 4);
    this.addresses6 = this.addresses.filter((a) => familyOf(a) === 6);
    this.rng = rng;
  }

  get address(): string {
    return at(this.addresses, 0);
  }

  /** The host's addresses of one family. */
  addressesOf(family: 4 | 6): readonly string[] {
    return family === 6 ? this.addresses6 : this.addresses4;
  }

  /**
   * Binds a socket. `address` defaults to the host's first address ('0.0.0.0'
   * = all its IPv4 addresses, '::' = all its IPv6 ones, IPv6-only); `port` 0
   * or absent = a free ephemeral port (seeded). The two families have
   * separate ports. Throws ERR_SOCKET_BIND when the port is taken or the
   * address is not the host's.
   */
  bind(opts: { address?: string; port?: number } = {}): VirtualUdpSocket {
    const address = canonicalIp(opts.address ?? this.address);
    if (address !== ANY4 && address !== ANY6 && !this.addresses.includes(address)) {
      throw new BurrowError('ERR_SOCKET_BIND', `cannot bind ${address} on ${this.name}: address not available`);
    }
    let port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `bad port ${port}`);
    }
    if (port === 0) {
      port = this.ephemeralPort(address);
    } else if (this.inUse(address, port)) {
      throw new BurrowError('ERR_SOCKET_BIND', `cannot bind ${address}:${port} on ${this.name}: address already in use`);
    }
    const socket = new VirtualUdpSocket(this, { address, port });
    this.sockets.set(endpointText(address, port), socket);
    return socket;
  }

  /** Open sockets on this host. */
  get socketCount(): number {
    return this.sockets.size;
  }

  private inUse(address: string, port: number): boolean {
    const family = address.includes(':') ? 6 : 4;
    const any = wildcardOf(family);
    if (this.sockets.has(endpointText(address, port)) || this.sockets.has(endpointText(any, port))) return true;
    if (address === any) return this.addressesOf(family).some((a) => this.sockets.has(endpointText(a, port)));
    return false;
  }

  private ephemeralPort(address: string): number {
    for (let i = 0; i < 1000; i++) {
      const p = this.rng.int(EPHEMERAL_MIN, EPHEMERAL_MAX);
      if (!this.inUse(address, p)) return p;
    }
    for (let p = EPHEMERAL_MIN; p <= EPHEMERAL_MAX; p++) if (!this.inUse(address, p)) return p;
    throw new BurrowError('ERR_SOCKET_BIND', `no free ephemeral port on ${this.name}`);
  }

  /** @internal SocketHost */
  release(socket: VirtualUdpSocket): void {
    const l = socket.localEndpoint();
    const k = endpointText(l.address, l.port);
    if (this.sockets.get(k) === socket) this.sockets.delete(k);
  }

  /** @internal SocketHost: `to` is of the socket's family (the socket checked); returns why it failed, or null. */
  transmit(socket: VirtualUdpSocket, data: Uint8Array, to: UdpEndpoint, ttl: number): SendFailure | null {
    const local = socket.localEndpoint();
    const dst = { address: canonicalIp(to.address), port: to.port };
    let source = local.address;
    if (source === wildcardOf(socket.family)) {
      const own = this.addressesOf(socket.family)[0];
      if (own === undefined) {
        const where = endpointText(dst.address, dst.port);
        return { errno: 'ENETUNREACH', message: `send ENETUNREACH ${where}: ${this.name} has no IPv${socket.family} address` };
      }
      source = own;
    }
    const src = { address: source, port: local.port };
    const net = this.network;
    const packet = encodePacket(src, dst, ttl, net.nextPacketId(), data);
    net.record({
      t: net.scheduler.now(),
      kind: 'send',
      node: this.name,
      from: endpointText(src.address, src.port),
      to: endpointText(dst.address, dst.port),
      len: data.length,
      hash: fnv1a(data),
      ttl,
    });
    if (this.addresses.includes(dst.address)) {
      // Loopback to one of our own addresses: delivered in the next turn.
      net.scheduler.defer(() => this.receive(packet, null));
      return null;
    }
    if (this.uplink === null) return { errno: 'ENETUNREACH', message: `no route to ${dst.address} from ${this.name}` };
    this.uplink.end.send(packet);
    return null;
  }

  receive(packet: Buffer, _iface: VirtualInterface | null): void {
    const h = decodeHeader(packet);
    if (!this.addresses.includes(h.dst)) {
      this.stats.notForHost++;
      this.drop('not-for-host', h);
      return;
    }
    const socket = this.sockets.get(endpointText(h.dst, h.dstPort)) ?? this.sockets.get(endpointText(wildcardOf(h.family), h.dstPort));
    if (socket === undefined || socket.closed) {
      this.stats.noSocket++;
      this.drop('no-socket', h);
      return;
    }
    const payload = payloadOf(packet);
    const net = this.network;
    net.record({
      t: net.scheduler.now(),
      kind: 'recv',
      node: this.name,
      from: endpointText(h.src, h.srcPort),
      to: endpointText(h.dst, h.dstPort),
      len: payload.length,
      hash: fnv1a(payload),
      ttl: h.ttl,
    });
    socket.deliver(payload, { address: h.src, port: h.srcPort });
  }
}

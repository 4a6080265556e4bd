/**
 * A virtual IPv4 UDP network on a fake clock: hosts with sockets, routers
 * that decrement TTL, NAT routers, and point-to-point links that delay, drop,
 * duplicate, reorder and rate-limit packets (netsim/link.ts). Everything runs
 * on one VirtualScheduler and draws randomness from one seed, so a run is
 * repeatable event for event (see `trace`).
 */
import { at } from '../../src/util/at.js';
import { BurrowError } from '../../src/errors.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { VirtualLink, type LinkProfile } from '../link.js';
import { SeededRandom } from '../random.js';
import { VirtualScheduler } from './scheduler.js';
import { NatTable, type NatOptions } from './nat.js';
import {
  decodeHeader,
  encodePacket,
  fnv1a,
  ipToInt,
  isIpv4,
  parseCidr,
  inCidr,
  payloadOf,
  rewriteDestination,
  rewriteSource,
  setTtlByte,
  type PacketHeader,
} from './packet.js';
import { natProfile, type NatProfile, type NatProfileName } from './profiles.js';
import { VirtualUdpSocket, type SocketHost } from './socket.js';
import { PortMapRouter, routerHostOf, type PortMapRouterOptions } from './portmap-router.js';
import { PORTMAP_SERVER_PORT } from './portmap-server.js';
import { Trace, type TraceEvent } from './trace.js';

export interface VirtualNetworkOptions {
  /** Seed for every random choice (links, ephemeral ports, NAT ports). */
  seed: number;
  /** Default: a new VirtualScheduler at time 0. */
  scheduler?: VirtualScheduler;
  /** Keep every trace event in `trace.events` (the digest is always kept). Default true. */
  recordTrace?: boolean;
}

/** Why packets were dropped, summed over the network. */
export type DropCounts = Record<string, number>;

/** One end of a link, attached to a node. */
export class VirtualInterface {
  constructor(
    readonly node: VirtualNode,
    readonly link: VirtualLink,
    readonly end: VirtualLink['a'],
    readonly name: string,
  ) {}
}

export abstract class VirtualNode {
  readonly interfaces: VirtualInterface[] = [];
  /** Drops at this node by reason. */
  readonly drops: DropCounts = {};

  constructor(
    readonly network: VirtualNetwork,
    readonly name: string,
  ) {}

  /** A packet arrived on `iface` (the buffer is this node's own copy). */
  abstract receive(packet: Buffer, iface: VirtualInterface): void;

  /** @internal */
  attach(link: VirtualLink, end: VirtualLink['a']): VirtualInterface {
    const iface = new VirtualInterface(this, link, end, `${this.name}/if${this.interfaces.length}`);
    this.interfaces.push(iface);
    end.onReceive((packet) => this.receive(packet, iface));
    return iface;
  }

  protected drop(reason: string, h: PacketHeader): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.network.countDrop(reason);
    this.network.record({
      t: this.network.scheduler.now(),
      kind: 'drop',
      node: this.name,
      from: `${h.src}:${h.srcPort}`,
      to: `${h.dst}:${h.dstPort}`,
      len: h.payloadLength,
      ttl: h.ttl,
      note: reason,
    });
  }
}

/** Ephemeral ports, as Linux's default ip_local_port_range. */
const EPHEMERAL_MIN = 32768;
const EPHEMERAL_MAX = 60999;

export interface HostStats {
  /** Datagrams for a port nothing is bound to (a kernel would answer ICMP port unreachable). */
  noSocket: number;
  /** Datagrams addressed to an address this host does not have. */
  notForHost: number;
}

/** An end host: one uplink, one or more addresses, UDP sockets. */
export class VirtualHost extends VirtualNode implements SocketHost {
  readonly addresses: readonly string[];
  uplink: VirtualInterface | null = null;
  readonly stats: HostStats = { noSocket: 0, notForHost: 0 };
  private readonly sockets = new Map<string, VirtualUdpSocket>();
  private readonly rng: SeededRandom;

  constructor(network: VirtualNetwork, name: string, addresses: readonly string[], rng: SeededRandom) {
    super(network, name);
    if (addresses.length === 0) throw new Error(`host ${name} needs an address`);
    for (const a of addresses) if (!isIpv4(a)) throw new Error(`host ${name}: not an IPv4 address: ${a}`);
    this.addresses = [...addresses];
    this.rng = rng;
  }

  get address(): string {
    return at(this.addresses, 0);
  }

  /**
   * Binds a socket. `address` defaults to the host's first address ('0.0.0.0'
   * = all of them); `port` 0 or absent = a free ephemeral port (seeded).
   * Throws ERR_SOCKET_BIND when the port is taken or the address is not the host's.
   */
  bind(opts: { address?: string; port?: number } = {}): VirtualUdpSocket {
    const address = opts.address ?? this.address;
    if (address !== '0.0.0.0' && !this.addresses.includes(address)) {
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
    this.sockets.set(`${address}:${port}`, socket);
    return socket;
  }

  /** Open sockets on this host. */
  get socketCount(): number {
    return this.sockets.size;
  }

  private inUse(address: string, port: number): boolean {
    if (this.sockets.has(`${address}:${port}`) || this.sockets.has(`0.0.0.0:${port}`)) return true;
    if (address === '0.0.0.0') return this.addresses.some((a) => this.sockets.has(`${a}:${port}`));
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
    const k = `${l.address}:${l.port}`;
    if (this.sockets.get(k) === socket) this.sockets.delete(k);
  }

  /** @internal SocketHost: returns an error message or null. */
  transmit(socket: VirtualUdpSocket, data: Uint8Array, to: UdpEndpoint, ttl: number): string | null {
    const local = socket.localEndpoint();
    const src = { address: local.address === '0.0.0.0' ? this.address : local.address, port: local.port };
    const net = this.network;
    const packet = encodePacket(src, to, ttl, net.nextPacketId(), data);
    net.record({
      t: net.scheduler.now(),
      kind: 'send',
      node: this.name,
      from: `${src.address}:${src.port}`,
      to: `${to.address}:${to.port}`,
      len: data.length,
      hash: fnv1a(data),
      ttl,
    });
    if (this.addresses.includes(to.address)) {
      // Loopback to one of our own addresses: delivered in the next turn.
      net.scheduler.defer(() => this.receive(packet, null));
      return null;
    }
    if (this.uplink === null) return `no route to ${to.address} from ${this.name}`;
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
    const socket = this.sockets.get(`${h.dst}:${h.dstPort}`) ?? this.sockets.get(`0.0.0.0:${h.dstPort}`);
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
      from: `${h.src}:${h.srcPort}`,
      to: `${h.dst}:${h.dstPort}`,
      len: payload.length,
      hash: fnv1a(payload),
      ttl: h.ttl,
    });
    socket.deliver(payload, { address: h.src, port: h.srcPort });
  }
}

interface Route {
  net: number;
  len: number;
  iface: VirtualInterface;
}

/** A router: forwards by longest prefix match and decrements TTL; a packet whose TTL would reach 0 dies here. */
export class VirtualRouter extends VirtualNode {
  readonly addresses: string[];
  private readonly routes: Route[] = [];

  constructor(network: VirtualNetwork, name: string, addresses: readonly string[] = []) {
    super(network, name);
    this.addresses = [...addresses];
  }

  addRoute(cidr: string, iface: VirtualInterface): void {
    if (iface.node !== this) throw new Error(`${iface.name} is not an interface of ${this.name}`);
    const { net, len } = parseCidr(cidr);
    this.routes.push({ net, len, iface });
    // Longest prefix first; equal prefixes keep insertion order.
    this.routes.sort((a, b) => b.len - a.len);
  }

  lookup(address: string): VirtualInterface | undefined {
    const a = ipToInt(address);
    for (const r of this.routes) if (inCidr(a, r.net, r.len)) return r.iface;
    return undefined;
  }

  receive(packet: Buffer, _iface: VirtualInterface): void {
    const h = decodeHeader(packet);
    if (this.addresses.includes(h.dst)) {
      this.drop('to-router', h);
      return;
    }
    this.forward(packet, h);
  }

  /** TTL check and decrement, route, send. `h` must describe the packet as it is now. */
  protected forward(packet: Buffer, h: PacketHeader): void {
    if (h.ttl <= 1) {
      this.drop('ttl-expired', h);
      return;
    }
    const out = this.lookup(h.dst);
    if (out === undefined) {
      this.drop('no-route', h);
      return;
    }
    setTtlByte(packet, h.ttl - 1);
    out.end.send(packet);
  }
}

/** A NAT as the network accepts it: a profile name, a profile (e.g. from natProfile() with a variant), or options. */
export type NatSpec = NatProfileName | NatProfile | NatOptions;

/**
 * A NAT router: one outside interface with the public address, any number of
 * inside interfaces. Outbound packets get their source rewritten by the
 * NatTable; packets to the public address are translated back or dropped.
 * Traffic between two inside interfaces is bridged (as a LAN switch would:
 * no TTL decrement, no NAT).
 */
export class VirtualNat extends VirtualRouter {
  readonly table: NatTable;
  readonly publicAddress: string;
  readonly profileName: string;
  outside: VirtualInterface | null = null;
  /** The port-mapping daemon (NAT-PMP/PCP on the inside address), if enabled. */
  portmap: PortMapRouter | null = null;

  constructor(
    network: VirtualNetwork,
    name: string,
    publicAddress: string,
    insideAddress: string | undefined,
    spec: NatSpec,
    rng: SeededRandom,
  ) {
    super(network, name, insideAddress === undefined ? [] : [insideAddress]);
    if (!isIpv4(publicAddress)) throw new Error(`NAT ${name}: bad public address ${publicAddress}`);
    this.publicAddress = publicAddress;
    const profile = typeof spec === 'string' ? natProfile(spec) : 'options' in spec ? spec : null;
    this.profileName = profile?.name ?? 'custom';
    const options = profile?.options ?? (spec as NatOptions);
    this.table = new NatTable(options, rng);
  }

  /**
   * Runs a port-mapping daemon on this router (see portmap-router.ts): NAT-PMP
   * and/or PCP on the inside address, port 5351, forwarding into this NAT.
   */
  enablePortMapping(opts: PortMapRouterOptions = {}): PortMapRouter {
    if (this.portmap !== null) throw new Error(`NAT ${this.name} already runs a port-mapping daemon`);
    this.portmap = new PortMapRouter(routerHostOf(this), opts);
    return this.portmap;
  }

  /** `conntrack -F` on this router: every mapping, flow and unreplied entry forgotten (see NatTable.flush). */
  flush(): number {
    const n = this.table.flush();
    this.traceState();
    return n;
  }

  override receive(packet: Buffer, iface: VirtualInterface): void {
    const h = decodeHeader(packet);
    const now = this.network.scheduler.now();
    if (iface === this.outside) {
      if (h.dst !== this.publicAddress) {
        this.drop('not-for-nat', h);
        return;
      }
      // As in Linux: conntrack sees the packet before the forwarding TTL check, so a
      // packet that dies here still leaves (or refreshes) NAT state; one that is not
      // admitted is local input and has no TTL check at all.
      const d = this.table.inbound({ address: h.src, port: h.srcPort }, h.dstPort, now);
      this.traceState();
      if (!d.ok) {
        this.drop(d.reason, h);
        return;
      }
      rewriteDestination(packet, d.internal.address, d.internal.port);
      this.traceNat('nat-in', h, `${h.dst}:${h.dstPort} -> ${d.internal.address}:${d.internal.port}`);
      this.forward(packet, { ...h, dst: d.internal.address, dstPort: d.internal.port });
      return;
    }
    if (h.dst === this.publicAddress) {
      this.hairpin(packet, h, now);
      return;
    }
    if (this.portmap !== null && h.dst === this.addresses[0] && h.dstPort === PORTMAP_SERVER_PORT) {
      const data = payloadOf(packet);
      this.network.record({ t: now, kind: 'recv', node: this.name, from: `${h.src}:${h.srcPort}`, to: `${h.dst}:${h.dstPort}`, len: data.length, hash: fnv1a(data), ttl: h.ttl });
      this.portmap.receive(data, { address: h.src, port: h.srcPort });
      return;
    }
    if (this.addresses.includes(h.dst)) {
      this.drop('to-router', h);
      return;
    }
    const out = this.lookup(h.dst);
    if (out !== undefined && out !== this.outside) {
      // Inside to inside: the LAN switch delivers it.
      out.end.send(packet);
      return;
    }
    if (h.ttl <= 1) {
      this.drop('ttl-expired', h);
      return;
    }
    const d = this.table.outbound({ address: h.src, port: h.srcPort }, { address: h.dst, port: h.dstPort }, now);
    this.traceState();
    if (!d.ok) {
      this.drop(d.reason, h);
      return;
    }
    rewriteSource(packet, this.publicAddress, d.externalPort);
    this.traceNat('nat-out', h, `${h.src}:${h.srcPort} -> ${this.publicAddress}:${d.externalPort} (${d.how})`);
    this.forward(packet, { ...h, src: this.publicAddress, srcPort: d.externalPort });
  }

  private hairpin(packet: Buffer, h: PacketHeader, now: number): void {
    if (!this.table.options.hairpin) {
      this.drop('hairpin-off', h);
      return;
    }
    if (h.ttl <= 1) {
      this.drop('ttl-expired', h);
      return;
    }
    const o = this.table.outbound({ address: h.src, port: h.srcPort }, { address: h.dst, port: h.dstPort }, now);
    this.traceState();
    if (!o.ok) {
      this.drop(o.reason, h);
      return;
    }
    const i = this.table.inbound({ address: this.publicAddress, port: o.externalPort }, h.dstPort, now, true);
    this.traceState();
    if (!i.ok) {
      this.drop(i.reason, { ...h, src: this.publicAddress, srcPort: o.externalPort });
      return;
    }
    rewriteSource(packet, this.publicAddress, o.externalPort);
    rewriteDestination(packet, i.internal.address, i.internal.port);
    this.traceNat('nat-in', h, `hairpin ${h.src}:${h.srcPort} -> ${this.publicAddress}:${o.externalPort} -> ${i.internal.address}:${i.internal.port}`);
    this.forward(packet, { ...h, src: this.publicAddress, srcPort: o.externalPort, dst: i.internal.address, dstPort: i.internal.port });
  }

  private traceNat(kind: 'nat-in' | 'nat-out', h: PacketHeader, note: string): void {
    this.network.record({
      t: this.network.scheduler.now(),
      kind,
      node: this.name,
      from: `${h.src}:${h.srcPort}`,
      to: `${h.dst}:${h.dstPort}`,
      len: h.payloadLength,
      note,
    });
  }

  /** @internal */
  traceState(): void {
    for (const e of this.table.drainEvents()) {
      this.network.record({
        t: this.network.scheduler.now(),
        kind: 'nat-state',
        node: this.name,
        from: '',
        to: '',
        len: 0,
        note: `${e.what}: ${e.detail}`,
      });
    }
  }
}

export class VirtualNetwork {
  readonly scheduler: VirtualScheduler;
  readonly rng: SeededRandom;
  readonly trace: Trace;
  /** Drops by reason over the whole network (link losses are in each link's stats). */
  readonly drops: DropCounts = {};
  readonly links: VirtualLink[] = [];
  private readonly nodes = new Map<string, VirtualNode>();
  private packetIds = 0;

  constructor(options: VirtualNetworkOptions) {
    this.scheduler = options.scheduler ?? new VirtualScheduler();
    this.rng = new SeededRandom(options.seed);
    this.trace = new Trace(options.recordTrace ?? true);
  }

  addHost(name: string, addresses: string | readonly string[]): VirtualHost {
    const list = typeof addresses === 'string' ? [addresses] : addresses;
    return this.register(new VirtualHost(this, name, list, this.rng.fork()));
  }

  addRouter(name: string, addresses: readonly string[] = []): VirtualRouter {
    return this.register(new VirtualRouter(this, name, addresses));
  }

  addNat(name: string, opts: { publicAddress: string; insideAddress?: string; nat: NatSpec; portmap?: PortMapRouterOptions }): VirtualNat {
    const nat = this.register(new VirtualNat(this, name, opts.publicAddress, opts.insideAddress, opts.nat, this.rng.fork()));
    if (opts.portmap !== undefined) nat.enablePortMapping(opts.portmap);
    return nat;
  }

  node(name: string): VirtualNode | undefined {
    return this.nodes.get(name);
  }

  /** A point-to-point link between two nodes; `aToB` applies to packets from a, `bToA` (default: same) back. */
  connect(a: VirtualNode, b: VirtualNode, aToB: LinkProfile = {}, bToA: LinkProfile = aToB): [VirtualInterface, VirtualInterface] {
    const link = new VirtualLink(this.scheduler, this.rng.fork(), aToB, bToA);
    this.links.push(link);
    return [a.attach(link, link.a), b.attach(link, link.b)];
  }

  /** Links a host to a router (or NAT inside): the host's uplink, and host routes on the router. */
  attachHost(host: VirtualHost, router: VirtualRouter, up: LinkProfile = {}, down: LinkProfile = up): void {
    if (host.uplink !== null) throw new Error(`host ${host.name} already has an uplink`);
    const [h, r] = this.connect(host, router, up, down);
    host.uplink = h;
    for (const a of host.addresses) router.addRoute(`${a}/32`, r);
  }

  /** Links a NAT's outside to an upstream router (or a carrier NAT's inside). */
  attachNat(nat: VirtualNat, upstream: VirtualRouter, up: LinkProfile = {}, down: LinkProfile = up): void {
    if (nat.outside !== null) throw new Error(`NAT ${nat.name} already has an outside link`);
    const [n, u] = this.connect(nat, upstream, up, down);
    nat.outside = n;
    nat.addRoute('0.0.0.0/0', n);
    upstream.addRoute(`${nat.publicAddress}/32`, u);
  }

  /** Links two routers; each gets routes to the given prefixes over the new link. */
  connectRouters(
    a: VirtualRouter,
    b: VirtualRouter,
    opts: { viaB?: string[]; viaA?: string[]; aToB?: LinkProfile; bToA?: LinkProfile } = {},
  ): void {
    const [ia, ib] = this.connect(a, b, opts.aToB ?? {}, opts.bToA ?? opts.aToB ?? {});
    for (const p of opts.viaB ?? []) a.addRoute(p, ia);
    for (const p of opts.viaA ?? []) b.addRoute(p, ib);
  }

  /** @internal */
  record(event: TraceEvent): void {
    this.trace.add(event);
  }

  /** @internal */
  countDrop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** @internal */
  nextPacketId(): number {
    return this.packetIds++;
  }

  private register<T extends VirtualNode>(node: T): T {
    if (this.nodes.has(node.name)) throw new Error(`duplicate node name ${node.name}`);
    this.nodes.set(node.name, node);
    return node;
  }
}

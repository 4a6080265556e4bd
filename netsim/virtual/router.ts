/** Routers of the virtual network: plain (longest prefix, TTL) and NAT routers (with the site's IPv6 firewall). */
import type { SeededRandom } from '../random.js';
import { NatTable, type NatOptions } from './nat.js';
import { Ipv6Firewall, type FirewallOptions } from './firewall6.js';
import { canonicalIp, inCidr6, ip6ToBigInt, parseCidr6 } from './ip6.js';
import {
  decodeHeader,
  fnv1a,
  payloadOf,
  inCidr,
  ipToInt,
  isIpv4,
  parseCidr,
  rewriteDestination,
  rewriteSource,
  setTtlByte,
  type PacketHeader,
} from './packet.js';
import { natProfile, type NatProfile, type NatProfileName } from './profiles.js';
import { VirtualNode, type VirtualInterface } from './node.js';
import type { VirtualNetwork } from './network.js';
import { PortMapRouter, routerHostOf, type PortMapRouterOptions } from './portmap-router.js';
import { PORTMAP_SERVER_PORT } from './portmap-server.js';

interface Route {
  net: number;
  len: number;
  iface: VirtualInterface;
}

interface Route6 {
  net: bigint;
  len: number;
  iface: VirtualInterface;
}

/**
 * A router: forwards by longest prefix match (IPv4 and IPv6 tables) and
 * decrements TTL / hop limit; a packet whose TTL would reach 0 dies here.
 */
export class VirtualRouter extends VirtualNode {
  readonly addresses: string[];
  private readonly routes: Route[] = [];
  private readonly routes6: Route6[] = [];

  constructor(network: VirtualNetwork, name: string, addresses: readonly string[] = []) {
    super(network, name);
    this.addresses = addresses.map(canonicalIp);
  }

  /** A route to an IPv4 ("a.b.c.d/len") or IPv6 ("2001:db8::/64") prefix. */
  addRoute(cidr: string, iface: VirtualInterface): void {
    if (iface.node !== this) throw new Error(`${iface.name} is not an interface of ${this.name}`);
    if (cidr.includes(':')) {
      const { net, len } = parseCidr6(cidr);
      this.routes6.push({ net, len, iface });
      this.routes6.sort((a, b) => b.len - a.len);
      return;
    }
    const { net, len } = parseCidr(cidr);
    this.routes.push({ net, len, iface });
    // Longest prefix first; equal prefixes keep insertion order.
    this.routes.sort((a, b) => b.len - a.len);
  }

  lookup(address: string): VirtualInterface | undefined {
    if (address.includes(':')) {
      const a6 = ip6ToBigInt(address);
      for (const r of this.routes6) if (inCidr6(a6, r.net, r.len)) return r.iface;
      return undefined;
    }
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

/** IPv6 on a NAT router: the site's routed prefix and the firewall in front of it. */
export interface NatIpv6Options {
  /** The site's global prefix, routed to the LAN (e.g. "2001:db8:1::/64"). */
  prefix: string;
  /** The router's own IPv6 addresses (packets to them are dropped as `to-router`). */
  addresses?: readonly string[];
  /** Firewall settings. Default: the NAT's UDP lifetimes (unreplied, stream) and 65536 flows. */
  firewall?: FirewallOptions;
}

/**
 * A NAT router: one outside interface with the public address, any number of
 * inside interfaces. Outbound packets get their source rewritten by the
 * NatTable; packets to the public address are translated back or dropped.
 * Traffic between two inside interfaces is bridged (as a LAN switch would:
 * no TTL decrement, no NAT).
 *
 * With `ipv6`, it also routes the site's IPv6 prefix, untranslated, through
 * an RFC 6092 stateful firewall (firewall6.ts): out always, in only on a flow
 * an inside host opened. The NAT profile (UDP blocking included) governs
 * IPv4 only, as on the kernel lane.
 */
export class VirtualNat extends VirtualRouter {
  readonly table: NatTable;
  readonly publicAddress: string;
  readonly profileName: string;
  /** The IPv6 firewall, when the site has IPv6. */
  readonly firewall6: Ipv6Firewall | null;
  /** The site's routed IPv6 prefix, when it has IPv6. */
  readonly prefix6: string | null;
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
    ipv6: NatIpv6Options | null = null,
  ) {
    super(network, name, [...(insideAddress === undefined ? [] : [insideAddress]), ...(ipv6?.addresses ?? [])]);
    if (!isIpv4(publicAddress)) throw new Error(`NAT ${name}: bad public address ${publicAddress}`);
    this.publicAddress = publicAddress;
    const profile = typeof spec === 'string' ? natProfile(spec) : 'options' in spec ? spec : null;
    this.profileName = profile?.name ?? 'custom';
    const options = profile?.options ?? (spec as NatOptions);
    this.table = new NatTable(options, rng);
    if (ipv6 === null) {
      this.firewall6 = null;
      this.prefix6 = null;
    } else {
      parseCidr6(ipv6.prefix);
      this.prefix6 = ipv6.prefix;
      const o = this.table.options;
      this.firewall6 = new Ipv6Firewall({ unrepliedTimeoutMs: o.unrepliedTimeoutMs, streamTimeoutMs: o.streamTimeoutMs, ...ipv6.firewall });
    }
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

  /**
   * `conntrack -F` on this router: every mapping, flow and unreplied entry
   * forgotten (see NatTable.flush), and the IPv6 firewall's flows too.
   */
  flush(): number {
    const n = this.table.flush();
    this.traceState();
    if (this.firewall6 !== null) {
      this.firewall6.flush();
      this.traceFirewall();
    }
    return n;
  }

  override receive(packet: Buffer, iface: VirtualInterface): void {
    const h = decodeHeader(packet);
    if (h.family === 6) {
      this.receive6(packet, iface, h);
      return;
    }
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

  /** IPv6: routed, not translated; the firewall decides what crosses from outside. */
  private receive6(packet: Buffer, iface: VirtualInterface, h: PacketHeader): void {
    const fw = this.firewall6;
    if (fw === null) {
      this.drop('no-ipv6', h);
      return;
    }
    if (this.addresses.includes(h.dst)) {
      this.drop('to-router', h);
      return;
    }
    const now = this.network.scheduler.now();
    const out = this.lookup(h.dst);
    if (iface === this.outside) {
      if (out === undefined || out === this.outside) {
        this.drop('no-route', h);
        return;
      }
      const d = fw.inbound({ address: h.src, port: h.srcPort }, { address: h.dst, port: h.dstPort }, now);
      this.traceFirewall();
      if (!d.ok) {
        this.drop(d.reason, h);
        return;
      }
      this.forward(packet, h);
      return;
    }
    if (out !== undefined && out !== this.outside) {
      // Inside to inside: the LAN switch delivers it.
      out.end.send(packet);
      return;
    }
    // As with IPv4: a packet that dies here never confirms a conntrack entry.
    if (h.ttl <= 1) {
      this.drop('ttl-expired', h);
      return;
    }
    const d = fw.outbound({ address: h.src, port: h.srcPort }, { address: h.dst, port: h.dstPort }, now);
    this.traceFirewall();
    if (!d.ok) {
      this.drop(d.reason, h);
      return;
    }
    this.forward(packet, h);
  }

  private traceFirewall(): void {
    if (this.firewall6 === null) return;
    for (const e of this.firewall6.drainEvents()) {
      this.network.record({ t: this.network.scheduler.now(), kind: 'fw-state', node: this.name, from: '', to: '', len: 0, note: `${e.what}: ${e.detail}` });
    }
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

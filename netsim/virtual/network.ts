/**
 * A virtual UDP network on a fake clock: hosts with sockets, routers that
 * decrement TTL, NAT routers, and point-to-point links that delay, drop,
 * duplicate, reorder and rate-limit packets (netsim/link.ts). IPv4, and
 * opt-in IPv6: hosts with IPv6 addresses, routers with IPv6 routes, and a NAT
 * router that also routes its site's IPv6 /64 through a stateful firewall
 * (firewall6.ts; no NAT66). Everything runs
 * on one VirtualScheduler and draws randomness from one seed, so a run is
 * repeatable event for event (see `trace`).
 */
import { VirtualLink, type LinkProfile } from '../link.js';
import { SeededRandom } from '../random.js';
import { VirtualScheduler } from './scheduler.js';
import { VirtualHost } from './host.js';
import { VirtualNat, VirtualRouter, type NatIpv6Options, type NatSpec } from './router.js';
import type { PortMapRouterOptions } from './portmap-router.js';
import type { DropCounts, VirtualInterface, VirtualNode } from './node.js';
import { Trace, type TraceEvent } from './trace.js';

// The nodes live in their own files; they are exported from here as before.
export { VirtualInterface, VirtualNode, type DropCounts } from './node.js';
export { VirtualHost, type HostStats } from './host.js';
export { VirtualRouter, VirtualNat, type NatSpec, type NatIpv6Options } from './router.js';

export interface VirtualNetworkOptions {
  /** Seed for every random choice (links, ephemeral ports, NAT ports). */
  seed: number;
  /** Default: a new VirtualScheduler at time 0. */
  scheduler?: VirtualScheduler;
  /** Keep every trace event in `trace.events` (the digest is always kept). Default true. */
  recordTrace?: boolean;
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

  /** A NAT router; with `ipv6`, it routes that prefix through its IPv6 firewall too (attachNat adds the routes). */
  addNat(name: string, opts: { publicAddress: string; insideAddress?: string; nat: NatSpec; ipv6?: NatIpv6Options; portmap?: PortMapRouterOptions }): VirtualNat {
    const nat = this.register(new VirtualNat(this, name, opts.publicAddress, opts.insideAddress, opts.nat, this.rng.fork(), opts.ipv6 ?? null));
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

  /** Links a host to a router (or NAT inside): the host's uplink, and host routes (/32, /128) on the router. */
  attachHost(host: VirtualHost, router: VirtualRouter, up: LinkProfile = {}, down: LinkProfile = up): void {
    if (host.uplink !== null) throw new Error(`host ${host.name} already has an uplink`);
    const [h, r] = this.connect(host, router, up, down);
    host.uplink = h;
    for (const a of host.addresses) router.addRoute(`${a}/${a.includes(':') ? 128 : 32}`, r);
  }

  /** Links a NAT's outside to an upstream router (or a carrier NAT's inside); with IPv6, the NAT's prefix is routed to it. */
  attachNat(nat: VirtualNat, upstream: VirtualRouter, up: LinkProfile = {}, down: LinkProfile = up): void {
    if (nat.outside !== null) throw new Error(`NAT ${nat.name} already has an outside link`);
    const [n, u] = this.connect(nat, upstream, up, down);
    nat.outside = n;
    nat.addRoute('0.0.0.0/0', n);
    upstream.addRoute(`${nat.publicAddress}/32`, u);
    if (nat.prefix6 !== null) {
      nat.addRoute('::/0', n);
      upstream.addRoute(nat.prefix6, u);
    }
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

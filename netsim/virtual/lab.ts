/**
 * The pieces of one burrow session on the in-process lane, started and left
 * running for a caller to drive: the topology (site "a" for the provider,
 * site "b" for the visitor, or both peers in site "a"), the real
 * RendezvousServer (and for xtcp its STUN UdpService on both server
 * addresses), the target service, Provider and Visitor, all on one
 * VirtualScheduler and one seed. `runVirtualSession` (matrix/session.ts)
 * drives it for the matrix; the scenarios (netsim/virtual/scenarios/)
 * drive it through failures: a NAT table flushed, the rendezvous closed, a
 * spraying third host, a long idle.
 *
 * The order in which things are created (random forks, sockets, timers) is
 * part of the run's fingerprint: keep it stable.
 */
import { at } from '../../src/util/at.js';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import type { RandomSource } from '../../src/clock/random.js';
import type { StreamTransport } from '../../src/net/stream-transport.js';
import type { HostLookup } from '../../src/net/dial-stream.js';
import type { TunnelSession } from '../../src/session/index.js';
import { Provider } from '../../peer/provider.js';
import { Visitor } from '../../peer/visitor.js';
import type { DirectConfig } from '../../peer/direct-setup.js';
import type { SessionTuning } from '../../peer/tunnel-options.js';
import { Rendezvous } from '../../rendezvous/rendezvous.js';
import { SeededRandom } from '../random.js';
import { VirtualScheduler } from './scheduler.js';
import { buildTopology, labProfileMapsPorts, labSite, SERVER_ADDRESSES, SERVER_ADDRESSES6, type LabProfileName, type SiteSpec, type Topology } from './topology.js';
import type { Ipv6Mode } from '../kernel/ipv6.js';
import type { BoundStunSockets } from '../../rendezvous/stun-bind.js';
import type { VirtualHost, VirtualNode } from './network.js';
import { VirtualTcp, type VirtualTcpOptions } from './tcp.js';
import { MemoryLog, type LogEvent } from './log.js';
import { virtualPortMapper } from './lab-portmap.js';
import type { PortMapRouterOptions } from './portmap-router.js';
import { payload, runClient, startTarget, type ClientRun, type Payload, type TargetHandle } from '../matrix/duplex-check.js';

export const RENDEZVOUS_PORT = 7000;
export const TARGET_PORT = 9000;
export const VISITOR_PORT = 5000;
const SERVICE = 'svc';

export type PeerRole = 'provider' | 'visitor';

export interface VirtualLabOptions {
  /** NAT profile of the provider's site and of the visitor's site (ignored with sameSite). */
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  /** Tunnel mode of both peers. Default 'stcp' (the relay). */
  mode?: 'stcp' | 'xtcp';
  /** Bytes the client sends up and the target sends down on every connection. */
  upBytes: number;
  downBytes: number;
  /** Keep every UDP and TCP trace event (digests are always kept). Default false. */
  recordTrace?: boolean;
  /** Hash every TCP chunk into the trace. Default false. */
  hashPayloads?: boolean;
  tcp?: Partial<Omit<VirtualTcpOptions, 'nodes'>>;
  /** The visitor's secret when it should differ from the provider's (a wrong-secret run). */
  visitorSecret?: string;
  /** Session tuning for both peers (on top of LANE_SESSION_TUNING). */
  session?: SessionTuning;
  /** Direct-path settings for both peers (xtcp). */
  direct?: DirectConfig;
  /**
   * Both peers in one site behind the provider's profile: the provider on its
   * first host, the visitor on its second (the site gets two hosts).
   */
  sameSite?: boolean;
  /** More sites after the peers' (e.g. a third host on the core: `{ name: 'x', nat: null }`). */
  extraSites?: SiteSpec[];
  /** Sees every datagram a peer's UDP sockets send, before it leaves the host (e.g. to capture genuine probes). */
  udpTap?: (role: PeerRole, data: Buffer, to: UdpEndpoint, from: UdpEndpoint) => void;
  /**
   * IPv6 of the provider's and the visitor's site (see topology.ts; with
   * sameSite the provider's applies). Any IPv6 makes the server dual-stack:
   * the rendezvous listens on `::` (TCP, both families) and for xtcp binds
   * its STUN layout once per family (IPv6 on SERVER_ADDRESSES6 first, as
   * startRendezvous does). A v6-only peer is given the server's IPv6 address.
   * Default 'off' for both: the lab is built exactly as without this option.
   */
  ipv6?: { provider?: Ipv6Mode; visitor?: Ipv6Mode };
  /**
   * Each peer offers all its host's addresses (both families) as host
   * candidates (`direct.hostAddresses`), instead of its socket's bound
   * address. Default false.
   */
  offerHostAddresses?: boolean;
  /**
   * Router port mapping (xtcp): the named peers' sites' NATs run the
   * port-mapping daemon (portmap-router.ts), and both peers ask their
   * router for a mapping of each session socket with the real PortMapper,
   * as the CLI does with port mapping on. Absent: no daemon, and the peers
   * never ask (DirectConfig.portmap off), as before. A peer of a port-mapping
   * profile (upnp-router) adds its role to `routers` by itself.
   */
  portmap?: { routers: readonly PeerRole[]; router?: PortMapRouterOptions };
}

/**
 * The in-process lane's session tuning: none. Every timer of a session — the
 * mux keepalive and pings included — runs on the session's Scheduler, so the
 * lane runs the production defaults on its fake clock.
 */
export const LANE_SESSION_TUNING: SessionTuning = {};

function allNodes(topo: Topology): VirtualNode[] {
  const nodes: VirtualNode[] = [topo.core, topo.server];
  for (const s of Object.values(topo.sites)) {
    if (s.carrier) nodes.push(s.carrier);
    if (s.nat) nodes.push(s.nat);
    nodes.push(...s.hosts);
  }
  return nodes;
}

/** A socket that shows every datagram it sends to `tap` first. */
function tappedSocket(inner: UdpSocket, tap: (data: Buffer, to: UdpEndpoint, from: UdpEndpoint) => void): UdpSocket {
  return {
    send(data, to) {
      if (!inner.closed) tap(Buffer.from(data), to, inner.localEndpoint());
      inner.send(data, to);
    },
    onMessage: (h) => inner.onMessage(h),
    onError: (h) => inner.onError(h),
    localEndpoint: () => inner.localEndpoint(),
    setTtl: (ttl) => inner.setTtl(ttl),
    close: () => inner.close(),
    get closed() {
      return inner.closed;
    },
  };
}

interface Role {
  transport: StreamTransport;
  udp: UdpSocketFactory;
  scheduler: VirtualScheduler;
  random: RandomSource;
  lookup?: HostLookup;
}

/**
 * The lab's port mapping: the `portmap` option, plus the roles whose profile
 * maps ports (upnp-router; with sameSite the provider's profile is the
 * site's). Undefined when neither asks for it: no daemon, no peer asks.
 */
export function labPortmap(opts: Pick<VirtualLabOptions, 'provider' | 'visitor' | 'sameSite' | 'portmap'>): VirtualLabOptions['portmap'] {
  // Each role's site profile: with sameSite both peers sit behind the provider's.
  const siteProfile = (who: PeerRole): LabProfileName => (opts.sameSite === true ? opts.provider : opts[who]);
  const implied = (['provider', 'visitor'] as const).filter((who) => labProfileMapsPorts(siteProfile(who)));
  if (implied.length === 0) return opts.portmap;
  const routers = [...(opts.portmap?.routers ?? []), ...implied.filter((who) => opts.portmap?.routers.includes(who) !== true)];
  return { ...opts.portmap, routers };
}

/** The rendezvous's name for dual-stack peers (A and AAAA, like the kernel lab's `lab.addName`). */
export const SERVER_NAME = 'rendezvous.lab.example';

export class VirtualSessionLab {
  readonly scheduler = new VirtualScheduler();
  readonly topo: Topology;
  readonly tcp: VirtualTcp;
  readonly memory: MemoryLog;
  readonly mode: 'stcp' | 'xtcp';
  readonly providerHost: VirtualHost;
  readonly visitorHost: VirtualHost;
  /** The rendezvous, with its STUN ports for xtcp. */
  readonly rendezvous: Rendezvous;
  readonly provider: Provider;
  readonly visitor: Visitor;
  readonly up: Payload;
  readonly down: Payload;
  /** Virtual time the peers were started. */
  t0 = 0;
  /** Virtual ms from the start to the visitor's first session. */
  setupMs: number | null = null;
  /** A peer's fatal error, if any. */
  fatal: string | null = null;
  target: TargetHandle | null = null;
  private readonly providerTransport: StreamTransport;
  private readonly visitorTransport: StreamTransport;
  private rendezvousClosed: Promise<void> | null = null;

  private constructor(readonly opts: VirtualLabOptions) {
    const scheduler = this.scheduler;
    this.mode = opts.mode ?? 'stcp';
    const v6a = opts.ipv6?.provider ?? 'off';
    const v6b = opts.sameSite ? v6a : (opts.ipv6?.visitor ?? 'off');
    const withV6 = (spec: SiteSpec, mode: Ipv6Mode): SiteSpec => (mode === 'off' ? spec : { ...spec, ipv6: mode });
    const portmapOpt = labPortmap(opts);
    const routerOn = (who: PeerRole): { portmap?: PortMapRouterOptions } =>
      portmapOpt?.routers.includes(who) === true ? { portmap: portmapOpt.router ?? {} } : {};
    const sites: SiteSpec[] = opts.sameSite
      ? [withV6({ ...labSite(opts.provider, 'a'), hosts: 2, ...routerOn('provider') }, v6a)]
      : [withV6({ ...labSite(opts.provider, 'a'), ...routerOn('provider') }, v6a), withV6({ ...labSite(opts.visitor, 'b'), ...routerOn('visitor') }, v6b)];
    this.topo = buildTopology({
      seed: opts.seed,
      scheduler,
      recordTrace: opts.recordTrace ?? false,
      sites: [...sites, ...(opts.extraSites ?? [])],
    });
    const topo = this.topo;
    this.tcp = new VirtualTcp(topo.network, {
      ...opts.tcp,
      nodes: allNodes(topo),
      hashPayloads: opts.hashPayloads ?? false,
      recordTrace: opts.recordTrace ?? false,
    });
    const rng = new SeededRandom(opts.seed ^ 0x5eed5eed);
    const udpOn = (host: VirtualHost, who: PeerRole | null): UdpSocketFactory => {
      const tap = opts.udpTap;
      return (address) => {
        const s = host.bind(address === undefined ? {} : { address });
        return tap && who ? tappedSocket(s, (d, to, from) => tap(who, d, to, from)) : s;
      };
    };
    const role = (host: VirtualHost, who: PeerRole | null): Role => ({ transport: this.tcp.transport(host), udp: udpOn(host, who), scheduler, random: rng.fork(), lookup });
    this.memory = new MemoryLog(() => scheduler.now());
    const token = rng.bytes(16).toString('hex');
    const secret = rng.bytes(16).toString('hex');
    const session: SessionTuning = {
      ...LANE_SESSION_TUNING,
      ...opts.session,
      mux: { ...LANE_SESSION_TUNING.mux, ...opts.session?.mux },
    };
    this.providerHost = topo.site('a').host;
    this.visitorHost = opts.sameSite ? at(topo.site('a').hosts, 1) : topo.site('b').host;
    const dualServer = topo.serverAddresses6 !== null;
    // A dual-stack peer of a dual-stack lab knows the rendezvous by a name with both records (so its IPv6 session socket finds the IPv6 STUN port).
    const serverFor = (mode: Ipv6Mode) => ({
      host: mode === 'v6-only' ? SERVER_ADDRESSES6[0] : mode === 'dual' && dualServer ? SERVER_NAME : SERVER_ADDRESSES[0],
      port: RENDEZVOUS_PORT,
    });
    const lookup: HostLookup = async (name) => {
      if (name === SERVER_NAME && dualServer) return [SERVER_ADDRESSES6[0], SERVER_ADDRESSES[0]];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };
    this.up = payload('virtual-up', opts.upBytes);
    this.down = payload('virtual-down', opts.downBytes);
    // The rendezvous's STUN ports in RFC 5780's layout, on both server addresses (xtcp only).
    const stunOn = (addresses: readonly [string, string]): BoundStunSockets => ({
      layout: { primary: { address: addresses[0], port: RENDEZVOUS_PORT }, altPort: RENDEZVOUS_PORT + 1, altAddress: addresses[1] },
      sockets: {
        primary: topo.server.bind({ address: addresses[0], port: RENDEZVOUS_PORT }),
        altPort: topo.server.bind({ address: addresses[0], port: RENDEZVOUS_PORT + 1 }),
        altAddress: topo.server.bind({ address: addresses[1], port: RENDEZVOUS_PORT }),
        altBoth: topo.server.bind({ address: addresses[1], port: RENDEZVOUS_PORT + 1 }),
      },
    });
    this.rendezvous = new Rendezvous({
      host: dualServer ? '::' : SERVER_ADDRESSES[0],
      port: RENDEZVOUS_PORT,
      token,
      logger: this.memory.logger({ component: 'rendezvous' }),
      ...role(topo.server, null),
      stun: this.mode !== 'xtcp' ? null : dualServer ? [stunOn(SERVER_ADDRESSES6), stunOn(SERVER_ADDRESSES)] : stunOn(SERVER_ADDRESSES),
    });
    // Both peers ask their router (the site's inside NAT) for mappings, over their own sockets, clock and randomness.
    // Each peer's direct-path config: the lab's, plus all its host's addresses (offerHostAddresses) and its router's port mapper (portmap).
    const direct = (host: VirtualHost, r: Role, site: string): { direct?: DirectConfig } => {
      const base: DirectConfig | undefined = opts.offerHostAddresses ? { ...opts.direct, hostAddresses: () => [...host.addresses] } : opts.direct;
      const gateway = portmapOpt === undefined ? undefined : topo.site(site).nat?.addresses[0];
      if (gateway === undefined) return base ? { direct: base } : {};
      const portmap = virtualPortMapper({ gateway, localAddress: host.address, udp: r.udp, scheduler, random: r.random });
      return { direct: { ...base, portmap } };
    };
    const providerRole = role(this.providerHost, 'provider');
    this.providerTransport = providerRole.transport;
    this.provider = new Provider({
      server: serverFor(v6a),
      token,
      services: [{ name: SERVICE, secret, target: { host: '127.0.0.1', port: TARGET_PORT } }],
      logger: this.memory.logger({ component: 'provider' }),
      mode: this.mode,
      session,
      ...direct(this.providerHost, providerRole, 'a'),
      ...providerRole,
    });
    const visitorRole = role(this.visitorHost, 'visitor');
    this.visitorTransport = visitorRole.transport;
    this.visitor = new Visitor({
      server: serverFor(v6b),
      token,
      service: SERVICE,
      secret: opts.visitorSecret ?? secret,
      listen: { host: '127.0.0.1', port: VISITOR_PORT },
      logger: this.memory.logger({ component: 'visitor' }),
      mode: this.mode,
      session,
      ...direct(this.visitorHost, visitorRole, opts.sameSite ? 'a' : 'b'),
      ...visitorRole,
    });
  }

  /** Builds the lab and starts the rendezvous, the target, the provider and the visitor (nothing waited for beyond listening). */
  static async start(opts: VirtualLabOptions): Promise<VirtualSessionLab> {
    const lab = new VirtualSessionLab(opts);
    await lab.rendezvous.listen();
    lab.target = await startTarget(lab.providerTransport, '127.0.0.1', TARGET_PORT, lab.down, opts.upBytes);
    lab.t0 = lab.scheduler.now();
    lab.provider.on('fatal', (e: Error) => (lab.fatal = `provider: ${e.message}`));
    lab.visitor.on('fatal', (e: Error) => (lab.fatal = `visitor: ${e.message}`));
    lab.visitor.on('session', (_s: TunnelSession) => {
      if (lab.setupMs === null) lab.setupMs = lab.scheduler.now() - lab.t0;
    });
    lab.provider.start();
    await lab.visitor.start();
    return lab;
  }

  get now(): number {
    return this.scheduler.now();
  }

  get events(): LogEvent[] {
    return this.memory.events;
  }

  /** Log events of one component (and optionally one event name). */
  log(component: 'rendezvous' | PeerRole, event?: string): LogEvent[] {
    return this.memory.events.filter((e) => e.fields.component === component && (event === undefined || e.event === event));
  }

  /** Runs the clock until the visitor's session is up (or a peer failed); false on timeout or failure. */
  async waitSession(timeoutMs = 60_000): Promise<boolean> {
    const ok = await this.scheduler.runUntil(() => this.setupMs !== null || this.fatal !== null, { maxTime: this.t0 + timeoutMs });
    return ok && this.fatal === null;
  }

  /**
   * xtcp: runs the clock until the visitor's punch settles — the direct path is
   * up, or an attempt failed in a way no retry can change — or `limitMs` passes.
   * Returns the visitor's direct-up event's sinceSessionMs (null: no direct path).
   */
  async waitPunchSettled(limitMs = 20_000): Promise<number | null> {
    await this.scheduler.runUntil(
      () =>
        this.memory.events.some(
          (e) =>
            e.fields.component === 'visitor' &&
            (e.event === 'direct-up' ||
              (e.event === 'punch-failed' && /no punch can meet|offers no direct path|UDP is blocked|offered none/.test(String(e.fields.reason)))),
        ) || this.fatal !== null,
      { maxTime: this.scheduler.now() + limitMs },
    );
    const d = this.log('visitor', 'direct-up')[0];
    return d && typeof d.fields.sinceSessionMs === 'number' ? d.fields.sinceSessionMs : null;
  }

  /** Runs the clock until `pred` holds, a peer fails, or `limitMs` passes; true when `pred` held. */
  async runUntil(pred: () => boolean, limitMs: number): Promise<boolean> {
    await this.scheduler.runUntil(() => pred() || this.fatal !== null, { maxTime: this.scheduler.now() + limitMs });
    return pred();
  }

  /** Runs the clock until a log event after `since` matches; returns it (undefined: timeout). */
  async waitEvent(component: 'rendezvous' | PeerRole, event: string, since: number, limitMs: number): Promise<LogEvent | undefined> {
    const find = () => this.memory.events.find((e) => e.t >= since && e.fields.component === component && e.event === event);
    await this.runUntil(() => find() !== undefined, limitMs);
    return find();
  }

  /** The client app connects to the visitor's listener and moves the lab's payloads (check `settled`). */
  request(): ClientRun {
    return runClient(this.visitorTransport, '127.0.0.1', VISITOR_PORT, this.up, this.down, () => this.scheduler.now());
  }

  /** A request run to completion, bounded in virtual time. */
  async requestToEnd(limitMs: number, during?: (run: ClientRun) => void): Promise<Awaited<ClientRun['result']>> {
    const run = this.request();
    const limit = this.scheduler.now() + limitMs;
    await this.scheduler.runUntil(
      () => {
        during?.(run);
        return run.settled !== null || this.fatal !== null;
      },
      { maxTime: limit },
    );
    if (run.settled === null) run.abort(this.fatal ?? `transfer incomplete after ${limitMs} ms (virtual)`);
    return run.result;
  }

  /** Closes every socket of the rendezvous, TCP and UDP (the rendezvous goes away); the clock keeps running. */
  closeRendezvous(): void {
    if (this.rendezvousClosed !== null) return;
    this.rendezvousClosed = this.rendezvous.close();
  }

  /** Stops the peers, the rendezvous and the target and lets closes in flight land (bounded); returns what is left open. */
  async teardown(): Promise<{ leftSockets: number; leftListeners: number }> {
    this.visitor.stop();
    this.provider.stop();
    if (this.rendezvousClosed === null) {
      await this.rendezvous.close();
    } else {
      await this.rendezvousClosed;
    }
    await this.target?.close();
    // Let FINs and resets in flight arrive (bounded).
    await this.scheduler.advance(5_000);
    return { leftSockets: this.tcp.openSockets, leftListeners: this.tcp.listening };
  }
}

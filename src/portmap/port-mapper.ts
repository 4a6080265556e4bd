/**
 * The port mapper's shell: owns the control socket, runs what the
 * PortMapperCore asks for (probe all three protocols at once, map, unmap),
 * reports back, and arms one timer for the core's next deadline.
 *
 *   const pm = await PortMapper.start({ internalPort: 40000, onEvent: (e) => … });
 *   …
 *   await pm.close();   // deletes the mapping on the router
 */
import { cryptoRandom, type RandomSource } from '../clock/random.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import { BurrowError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { nodeUdpSocketFactory, type UdpSocketFactory } from '../net/udp-factory.js';
import { GatewayLink } from './gateway-link.js';
import { nodeHttpClient, type HttpClient } from './http-client.js';
import { requireIPv4 } from './ipv4.js';
import { localAddressToward, readDefaultGateway } from './local-network.js';
import { PortMapperCore, type PortMapAction, type PortMapEvent, type PortMapProtocol } from './mapper-core.js';
import { PCP_NONCE_BYTES } from './pcp.js';
import { mapNatPmp, mapPcp, probeNatPmp, probePcp, type MapOutcome, type ProbeAnswer } from './pmp-pcp-client.js';
import { answerMayBeGateway, type SsdpAnswer } from './ssdp.js';
import { PORTMAP_TIMERS } from './timers.js';
import { UpnpGateway } from './upnp-client.js';

export interface PortMapperOptions {
  /** The local UDP port to map (the socket peers should reach). */
  internalPort: number;
  /** Default: the default route's gateway (/proc/net/route). */
  gateway?: string;
  /** Our address towards the gateway; default: found from the interfaces. */
  localAddress?: string;
  /** Restrict to these protocols (default all three). */
  protocols?: readonly PortMapProtocol[];
  /** Lifetime to ask for, in seconds. */
  lifetimeSeconds?: number;
  /** Refresh at least this often (see MapperCoreOptions). */
  maxRefreshIntervalMs?: number;
  /**
   * Wait the whole UPnP search even after PCP or NAT-PMP answered (default
   * false: UPnP then gets only `upnpGraceAfterPmpMs`). For reports that list
   * every protocol the router speaks; the mapping is the same either way.
   */
  probeEveryProtocol?: boolean;
  onEvent: (event: PortMapEvent) => void;
  udp?: UdpSocketFactory;
  scheduler?: Scheduler;
  random?: RandomSource;
  http?: HttpClient;
  log?: Logger;
}

const REQUEST_POLICY = {
  rtoMs: PORTMAP_TIMERS.requestRtoMs,
  maxSends: PORTMAP_TIMERS.requestMaxSends,
  timeoutMs: PORTMAP_TIMERS.requestTimeoutMs,
};

export class PortMapper {
  private readonly core: PortMapperCore;
  private timer: TimerHandle | null = null;
  private busy: Promise<void> = Promise.resolve();
  private upnpLocations: URL[] = [];
  private upnp: UpnpGateway | null = null;
  /** PCP refreshes and deletes reuse the nonce of the MAP that created the mapping (RFC 6887 section 11.2). */
  private pcpNonce: Buffer;
  private closing = false;
  private answered: ReadonlySet<PortMapProtocol> | null = null;
  private released: { protocol: PortMapProtocol; externalPort: number; outcome: string } | null = null;

  private constructor(
    private readonly opts: PortMapperOptions,
    private readonly link: GatewayLink,
    private readonly localAddress: string,
    private readonly scheduler: Scheduler,
    private readonly random: RandomSource,
    private readonly http: HttpClient,
  ) {
    this.core = new PortMapperCore({
      internalPort: opts.internalPort,
      ...(opts.protocols !== undefined ? { protocols: opts.protocols } : {}),
      ...(opts.maxRefreshIntervalMs !== undefined ? { maxRefreshIntervalMs: opts.maxRefreshIntervalMs } : {}),
    });
    this.pcpNonce = random.bytes(PCP_NONCE_BYTES);
  }

  /** Finds the gateway, opens the control socket and starts probing. */
  static async start(opts: PortMapperOptions): Promise<PortMapper> {
    if (!Number.isInteger(opts.internalPort) || opts.internalPort < 1 || opts.internalPort > 65535) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `internal port must be in 1..65535, got ${opts.internalPort}`);
    }
    const found = opts.gateway === undefined ? readDefaultGateway() : null;
    const gateway = opts.gateway ?? found?.gateway;
    if (gateway === undefined) throw new BurrowError('ERR_PORTMAP_UNREACHABLE', 'no default IPv4 gateway to ask for a port mapping');
    requireIPv4(gateway, 'gateway');
    const localAddress = opts.localAddress ?? found?.localAddress ?? localAddressToward(gateway);
    if (localAddress === null || localAddress === undefined) {
      throw new BurrowError('ERR_PORTMAP_UNREACHABLE', `no local IPv4 address on the gateway ${gateway}'s network`);
    }
    requireIPv4(localAddress, 'local address');
    const socket = await (opts.udp ?? nodeUdpSocketFactory)(localAddress);
    const scheduler = opts.scheduler ?? realScheduler;
    const pm = new PortMapper(opts, new GatewayLink(socket, gateway, scheduler), localAddress, scheduler, opts.random ?? cryptoRandom, opts.http ?? nodeHttpClient);
    pm.core.start(scheduler.now());
    pm.drive();
    return pm;
  }

  /** The mapping in force, if any. */
  get mapping(): { protocol: PortMapProtocol; externalAddress: string; externalPort: number } | null {
    const m = this.core.mapping;
    return m === null ? null : { protocol: m.protocol, externalAddress: m.externalAddress, externalPort: m.externalPort };
  }

  /** The gateway this mapper asks. */
  get gateway(): string {
    return this.link.gateway;
  }

  /** Which protocols answered the latest probe; null before the first probe ends. */
  get lastProbe(): ReadonlySet<PortMapProtocol> | null {
    return this.answered;
  }

  /** The latest deletion and its outcome ('deleted' or why not), if any. */
  get lastRelease(): { protocol: PortMapProtocol; externalPort: number; outcome: string } | null {
    return this.released;
  }

  /** Datagrams from the gateway that did not decode or answered nothing we asked. */
  get dropped(): number {
    return this.link.dropped;
  }

  /** Deletes the mapping on the router (bounded wait) and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return this.busy;
    this.closing = true;
    this.timer?.cancel();
    this.timer = null;
    await this.busy; // let a running map finish so its result is the one we delete
    this.core.close();
    this.busy = this.runActions(this.core.takeActions()).finally(() => this.link.close());
    return this.busy;
  }

  /** Runs queued actions one at a time, then re-arms the timer. */
  private drive(): void {
    const actions = this.core.takeActions();
    if (actions.length === 0) {
      this.arm();
      return;
    }
    this.busy = this.busy.then(() => this.runActions(actions)).then(() => {
      if (!this.closing) this.drive();
    });
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = null;
    const at = this.core.nextDeadline();
    if (at === null || this.closing) return;
    this.timer = this.scheduler.at(at, () => {
      this.timer = null;
      if (this.closing) return;
      this.core.poll(this.scheduler.now());
      this.drive();
    });
  }

  private async runActions(actions: PortMapAction[]): Promise<void> {
    for (const a of actions) {
      try {
        await this.runAction(a);
      } catch (e) {
        // Defensive: every step below reports its own failures; this keeps one bug from killing the loop.
        this.opts.log?.warn('portmap-internal-error', { error: String(e) });
        if (a.kind === 'map' && !this.closing) this.core.mapFailed(a.protocol, `internal error: ${String(e)}`, this.scheduler.now());
      }
    }
  }

  private async runAction(a: PortMapAction): Promise<void> {
    switch (a.kind) {
      case 'event':
        this.opts.log?.info(`portmap-${a.event.type}`, { ...a.event });
        this.opts.onEvent(a.event);
        return;
      case 'probe': {
        if (this.closing) return;
        const available = await this.probeAll();
        this.answered = available;
        if (!this.closing) this.core.probed(available, this.scheduler.now());
        return;
      }
      case 'map': {
        if (this.closing) return;
        const out = await this.map(a.protocol, a.suggestedExternalPort, a.refresh);
        if (this.closing) {
          // Closed while the router was mapping: delete what it may have created.
          if (out.ok) await this.unmap(out.grant.protocol, out.grant.externalPort);
          return;
        }
        this.opts.log?.debug('portmap-map-result', {
          protocol: a.protocol,
          refresh: a.refresh,
          ok: out.ok,
          ...(out.ok ? { externalPort: out.grant.externalPort } : { reason: out.reason }),
        });
        if (out.ok) this.core.mapSucceeded(out.grant, this.scheduler.now());
        else this.core.mapFailed(a.protocol, out.reason, this.scheduler.now(), out.externalAddress);
        return;
      }
      case 'unmap':
        await this.unmap(a.protocol, a.externalPort);
        return;
    }
  }

  private async probeAll(): Promise<Set<PortMapProtocol>> {
    const wanted = new Set(this.opts.protocols ?? ['pcp', 'natpmp', 'upnp']);
    const wait = PORTMAP_TIMERS.probeMs;
    const none = Promise.resolve({ present: false, success: false });
    // PCP and NAT-PMP are preferred over UPnP: once one of them said yes, UPnP gets only a short grace.
    const cutUpnp = (a: ProbeAnswer): ProbeAnswer => {
      if (a.success && this.opts.probeEveryProtocol !== true) this.link.shortenSsdpSearch(PORTMAP_TIMERS.upnpGraceAfterPmpMs);
      return a;
    };
    const [pmp, pcp, upnp] = await Promise.all([
      wanted.has('natpmp') ? probeNatPmp(this.link, wait).then(cutUpnp) : none,
      wanted.has('pcp') ? probePcp(this.link, this.localAddress, wait).then(cutUpnp) : none,
      wanted.has('upnp') ? this.probeUpnp(PORTMAP_TIMERS.upnpProbeMs) : false,
    ]);
    const out = new Set<PortMapProtocol>();
    if (pmp.present) out.add('natpmp');
    if (pcp.present) out.add('pcp');
    if (upnp) out.add('upnp');
    return out;
  }

  private async probeUpnp(waitMs: number): Promise<boolean> {
    const usable = (a: SsdpAnswer): boolean => answerMayBeGateway(a) && a.location.hostname === this.link.gateway;
    const answers = await this.link.searchSsdp(waitMs, usable);
    const seen = new Set<string>();
    this.upnpLocations = [];
    for (const a of answers) {
      if (!usable(a) || seen.has(a.location.href)) continue;
      seen.add(a.location.href);
      this.upnpLocations.push(a.location);
    }
    return this.upnpLocations.length > 0;
  }

  /** The cached IGD, else one from the last search's answers, else from a new search. */
  private async upnpGateway(): Promise<UpnpGateway | string> {
    if (this.upnp !== null) return this.upnp;
    if (this.upnpLocations.length === 0 && !(await this.probeUpnp(PORTMAP_TIMERS.upnpProbeMs))) return 'no UPnP IGD answered the search';
    const reasons: string[] = [];
    for (const loc of this.upnpLocations.slice(0, 4)) {
      try {
        this.upnp = await UpnpGateway.open(loc, this.http, PORTMAP_TIMERS.httpTimeoutMs, this.random);
        return this.upnp;
      } catch (e) {
        reasons.push(e instanceof Error ? e.message : String(e));
      }
    }
    this.upnpLocations = []; // stale (the router may have moved its HTTP port): search again next time
    return reasons.length > 0 ? reasons.join('; ') : 'no IGD description found';
  }

  private async map(protocol: PortMapProtocol, suggestedExternalPort: number, refresh: boolean): Promise<MapOutcome> {
    const lifetimeSeconds = this.opts.lifetimeSeconds ?? PORTMAP_TIMERS.lifetimeSeconds;
    const internalPort = this.opts.internalPort;
    switch (protocol) {
      case 'natpmp':
        return mapNatPmp(this.link, internalPort, suggestedExternalPort, lifetimeSeconds, REQUEST_POLICY);
      case 'pcp':
        if (!refresh) this.pcpNonce = this.random.bytes(PCP_NONCE_BYTES);
        return mapPcp(
          this.link,
          { nonce: this.pcpNonce, clientAddress: this.localAddress, internalPort, suggestedExternalPort, lifetimeSeconds },
          REQUEST_POLICY,
        );
      case 'upnp': {
        const req = { internalClient: this.localAddress, internalPort, suggestedExternalPort, lifetimeSeconds, refresh };
        const gw = await this.upnpGateway();
        if (typeof gw === 'string') return { ok: false, reason: gw };
        const out = await gw.map(req);
        if (out.ok || out.unreachable !== true || this.closing) return out;
        // A restarted router's HTTP server often comes back on another port: search again, then retry once.
        this.upnp = null;
        this.upnpLocations = [];
        const again = await this.upnpGateway();
        if (typeof again === 'string') return { ok: false, reason: `${out.reason}; then ${again}` };
        return again.map(req);
      }
    }
  }

  /** Best effort, bounded: a router that does not confirm keeps the mapping until its lifetime runs out. */
  private async unmap(protocol: PortMapProtocol, externalPort: number): Promise<void> {
    const policy = { ...REQUEST_POLICY, timeoutMs: PORTMAP_TIMERS.releaseTimeoutMs };
    let outcome: string;
    switch (protocol) {
      case 'natpmp': {
        // RFC 6886 section 3.4: delete = lifetime 0 and suggested external port 0.
        const r = await mapNatPmp(this.link, this.opts.internalPort, 0, 0, policy);
        outcome = r.ok ? 'deleted' : r.reason;
        break;
      }
      case 'pcp': {
        const r = await mapPcp(
          this.link,
          { nonce: this.pcpNonce, clientAddress: this.localAddress, internalPort: this.opts.internalPort, suggestedExternalPort: externalPort, lifetimeSeconds: 0 },
          policy,
        );
        outcome = r.ok ? 'deleted' : r.reason;
        break;
      }
      case 'upnp': {
        const gw = this.upnp;
        if (gw === null) return;
        outcome = await gw.deleteMapping(externalPort).then(
          () => 'deleted',
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
        break;
      }
    }
    this.released = { protocol, externalPort, outcome };
    this.opts.log?.info('portmap-release', { protocol, externalPort, outcome });
  }
}

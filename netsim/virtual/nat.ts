/**
 * The NAT model, sans-I/O: a table that decides, for each packet crossing
 * the NAT, which external port it uses (outbound) or which inside endpoint it
 * goes to (inbound), after RFC 4787. Time is passed in; nothing here touches
 * a clock or a timer, and all randomness comes from a SeededRandom.
 *
 * State is kept like Linux conntrack keeps it: a mapping (inside endpoint ->
 * external port) holds one flow per remote endpoint it has exchanged packets
 * with. Each flow has its own timeout (unreplied or two-way), outbound and
 * admitted inbound packets refresh it, and a mapping lives as long as one of
 * its flows does. Filtering looks at the flows the inside host opened.
 *
 * The Linux conntrack clash (option `conntrackClash`): an inbound packet that
 * the NAT does not admit still leaves an UNREPLIED entry (remote -> external
 * port) for `unrepliedTimeoutMs`, refreshed by every further such packet. A
 * new outbound flow to that remote whose external port would be that port
 * clashes with the entry, so the NAT gives the flow another port (a mapping
 * pinned to that one remote), as masquerade's clash resolution does. Inbound
 * packets matching the entry keep being dropped.
 *
 * Port forwards (`addForward`, what a port-mapping daemon such as miniupnpd
 * writes: a DNAT rule) send inbound packets for an external port to one inside
 * endpoint whatever the filtering. As in Linux, the rule applies to packets
 * that match no conntrack entry: each admitted remote gets a flow, the inside
 * host's replies to it leave from the forwarded port, while packets it sends
 * first to a new remote take the ordinary mapping (no source-NAT rule comes
 * with the forward). Flows outlive a deleted rule until they time out.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { SeededRandom } from '../random.js';

export type MappingBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';
export type FilteringBehaviour = MappingBehaviour;
export type PortAllocation = 'preserving' | 'sequential' | 'random';

export interface NatOptions {
  mapping: MappingBehaviour;
  filtering: FilteringBehaviour;
  /** Default 'preserving' (falls back to a random free port when taken). */
  portAllocation?: PortAllocation;
  /** Sequential allocation: distance between consecutive new ports. Default 1. */
  portStep?: number;
  /** Sequential allocation: the first port handed out. Default: seeded random in range. */
  firstPort?: number;
  /** External ports the NAT hands out. Default 1024..65535. */
  portRange?: { min: number; max: number };
  /** Inside hosts reach each other through the public address. Default false. */
  hairpin?: boolean;
  /** Lifetime of a flow that has seen packets in one direction only (conntrack udp_timeout). Default 30 s. */
  unrepliedTimeoutMs?: number;
  /** Lifetime of a two-way flow (conntrack udp_timeout_stream). Default 120 s. */
  streamTimeoutMs?: number;
  /** Most live mappings; a new one beyond that is refused (packet dropped). Default 65536. */
  maxMappings?: number;
  /** Model the Linux conntrack clash (see the module comment). Default false. */
  conntrackClash?: boolean;
  /** Drop all outbound UDP except to port 53 (a "TCP only" network). Default false. */
  blockUdp?: boolean;
}

export type ResolvedNatOptions = Required<Omit<NatOptions, 'firstPort'>> & { firstPort: number | undefined };

export function resolveNatOptions(o: NatOptions): ResolvedNatOptions {
  const r: ResolvedNatOptions = {
    mapping: o.mapping,
    filtering: o.filtering,
    portAllocation: o.portAllocation ?? 'preserving',
    portStep: o.portStep ?? 1,
    firstPort: o.firstPort,
    portRange: o.portRange ?? { min: 1024, max: 65535 },
    hairpin: o.hairpin ?? false,
    unrepliedTimeoutMs: o.unrepliedTimeoutMs ?? 30_000,
    streamTimeoutMs: o.streamTimeoutMs ?? 120_000,
    maxMappings: o.maxMappings ?? 65_536,
    conntrackClash: o.conntrackClash ?? false,
    blockUdp: o.blockUdp ?? false,
  };
  const { min, max } = r.portRange;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
    throw new Error(`bad NAT port range ${min}..${max}`);
  }
  if (!Number.isInteger(r.portStep) || r.portStep < 1) throw new Error(`bad NAT port step ${r.portStep}`);
  if (r.maxMappings < 1) throw new Error(`bad NAT table size ${r.maxMappings}`);
  return r;
}

interface Flow {
  readonly remote: string;
  readonly remoteAddress: string;
  /** The inside host sent to this remote through the mapping. */
  seenOut: boolean;
  /** The remote's packets were admitted through the mapping. */
  seenIn: boolean;
  expiresAt: number;
}

/** One external port and what it is bound to. */
export interface NatMapping {
  readonly id: number;
  readonly internal: UdpEndpoint;
  readonly externalPort: number;
  /** Set on a mapping created by a clash: it serves this one remote only. */
  readonly pinnedTo: string | null;
  readonly createdAt: number;
  /** Remote endpoints with a live flow, and whether each saw both directions. */
  flows(now: number): Array<{ remote: string; twoWay: boolean; expiresAt: number }>;
}

class Mapping implements NatMapping {
  readonly flowTable = new Map<string, Flow>();
  removed = false;
  /** A forward (DNAT rule) rather than a masquerade mapping; false once its rule is deleted. */
  ruleActive = false;
  constructor(
    readonly id: number,
    readonly internal: UdpEndpoint,
    readonly externalPort: number,
    readonly key: string,
    readonly pinnedTo: string | null,
    readonly createdAt: number,
    readonly forward = false,
  ) {}

  /** Drops expired flows; true while any flow lives. */
  prune(now: number): boolean {
    for (const [k, f] of this.flowTable) if (f.expiresAt <= now) this.flowTable.delete(k);
    return this.flowTable.size > 0;
  }

  flows(now: number): Array<{ remote: string; twoWay: boolean; expiresAt: number }> {
    this.prune(now);
    return [...this.flowTable.values()].map((f) => ({
      remote: f.remote,
      twoWay: f.seenIn && f.seenOut,
      expiresAt: f.expiresAt,
    }));
  }
}

export type OutboundDecision =
  | {
      ok: true;
      externalPort: number;
      /** How the port was chosen: an existing flow, an existing mapping, a new mapping, or a clash. */
      how: 'flow' | 'mapping' | 'new' | 'clash';
      /** For new mappings: whether the inside port was kept. */
      preserved?: boolean;
    }
  | { ok: false; reason: 'udp-blocked' | 'nat-table-full' | 'nat-ports-exhausted' };

export type InboundDecision =
  | { ok: true; internal: UdpEndpoint; mappingId: number }
  | { ok: false; reason: 'no-mapping' | 'filtered' | 'unreplied-entry' };

/** Something the NAT did to its state, for the trace. */
export interface NatStateEvent {
  what: 'mapping-created' | 'mapping-expired' | 'unreplied-entry' | 'clash' | 'flushed' | 'forward-added' | 'forward-removed';
  detail: string;
}

/** A port forward (DNAT rule) in force. */
export interface NatForward {
  readonly externalPort: number;
  readonly internal: UdpEndpoint;
}

const key = (address: string, port: number): string => `${address}:${port}`;

export class NatTable {
  readonly options: ResolvedNatOptions;
  private readonly byPort = new Map<number, Mapping>();
  private readonly byKey = new Map<string, Mapping>();
  /** inside endpoint + remote -> mapping holding that flow. */
  private readonly byFlow = new Map<string, Mapping>();
  /** remote + external port -> expiry of an unreplied inbound conntrack entry. */
  private readonly unreplied = new Map<string, number>();
  /** External port -> its forward (rule and the flows it admitted). Empty unless a port-mapping daemon adds one. */
  private readonly forwardsByPort = new Map<number, Mapping>();
  private nextId = 1;
  /** Packets since the last sweep of expired state. */
  private sinceSweep = 0;
  private nextSequential: number;
  /** Decisions worth tracing since the last drain. */
  private events: NatStateEvent[] = [];
  readonly stats = { mappingsCreated: 0, mappingsExpired: 0, clashes: 0, unrepliedEntries: 0, filtered: 0, refused: 0, flushes: 0 };

  constructor(
    options: NatOptions,
    private readonly rng: SeededRandom,
  ) {
    this.options = resolveNatOptions(options);
    const { min, max } = this.options.portRange;
    this.nextSequential = this.options.firstPort ?? rng.int(min, max);
  }

  /** State changes since the last call (the NAT router traces them). */
  drainEvents(): NatStateEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Live mappings (expired ones are removed first). */
  mappings(now: number): NatMapping[] {
    this.sweep(now);
    return [...this.byPort.values()].sort((a, b) => a.id - b.id);
  }

  /** The live mapping on an external port, if any. */
  mappingOnPort(port: number, now: number): NatMapping | undefined {
    return this.live(this.byPort.get(port), now);
  }

  /** Live unreplied inbound entries as "remote -> external port". */
  unrepliedEntries(now: number): Array<{ remote: string; externalPort: number; expiresAt: number }> {
    const out: Array<{ remote: string; externalPort: number; expiresAt: number }> = [];
    for (const [k, exp] of this.unreplied) {
      if (exp <= now) continue;
      const [remote, port] = splitUnrepliedKey(k);
      out.push({ remote, externalPort: port, expiresAt: exp });
    }
    return out;
  }

  /**
   * Adds (or renews) a port forward: inbound packets for `externalPort` that
   * match no conntrack entry go to `internal`. A forward to another endpoint
   * on that port is replaced (its flows with it).
   */
  addForward(externalPort: number, internal: UdpEndpoint): void {
    if (!Number.isInteger(externalPort) || externalPort < 1 || externalPort > 65535) throw new Error(`bad forward port ${externalPort}`);
    const had = this.forwardsByPort.get(externalPort);
    if (had !== undefined && !had.removed && had.internal.address === internal.address && had.internal.port === internal.port) {
      if (!had.ruleActive) this.events.push({ what: 'forward-added', detail: `:${externalPort} -> ${internal.address}:${internal.port}` });
      had.ruleActive = true;
      return;
    }
    if (had !== undefined) had.removed = true;
    const f = new Mapping(this.nextId++, { address: internal.address, port: internal.port }, externalPort, `forward:${externalPort}`, null, 0, true);
    f.ruleActive = true;
    this.forwardsByPort.set(externalPort, f);
    this.events.push({ what: 'forward-added', detail: `:${externalPort} -> ${internal.address}:${internal.port}` });
  }

  /** Deletes the forward on `externalPort` (its flows live on until they time out, as conntrack's do). False: none. */
  removeForward(externalPort: number, now: number): boolean {
    const f = this.forwardsByPort.get(externalPort);
    if (f === undefined || !f.ruleActive) return false;
    f.ruleActive = false;
    this.events.push({ what: 'forward-removed', detail: `:${externalPort} -> ${f.internal.address}:${f.internal.port}` });
    this.live(f, now);
    return true;
  }

  /** Forwards in force, by port. */
  forwards(): NatForward[] {
    return [...this.forwardsByPort.values()]
      .filter((f) => f.ruleActive)
      .sort((a, b) => a.externalPort - b.externalPort)
      .map((f) => ({ externalPort: f.externalPort, internal: f.internal }));
  }

  /**
   * Forgets every mapping, flow and unreplied entry at once, like
   * `conntrack -F` on the NAT router: the next outbound packet of a flow makes
   * a new mapping (a port-preserving NAT usually gives the same port again),
   * and inbound packets find nothing until then (and, with the clash modelled,
   * leave unreplied entries). Returns how many mappings were dropped.
   */
  flush(): number {
    const n = this.byPort.size;
    for (const m of this.byPort.values()) m.removed = true;
    this.byPort.clear();
    this.byKey.clear();
    this.byFlow.clear();
    this.unreplied.clear();
    // Forwards are rules, not conntrack state: they stay; the flows they admitted go.
    for (const [port, f] of this.forwardsByPort) {
      f.flowTable.clear();
      if (!f.ruleActive) {
        f.removed = true;
        this.forwardsByPort.delete(port);
      }
    }
    this.sinceSweep = 0;
    this.stats.flushes++;
    this.events.push({ what: 'flushed', detail: `${n} mappings` });
    return n;
  }

  /** An inside endpoint sends to `remote`. */
  outbound(internal: UdpEndpoint, remote: UdpEndpoint, now: number): OutboundDecision {
    const o = this.options;
    if (++this.sinceSweep >= 4096) this.sweep(now);
    if (o.blockUdp && remote.port !== 53) return { ok: false, reason: 'udp-blocked' };
    const inside = key(internal.address, internal.port);
    const rkey = key(remote.address, remote.port);
    const flowKey = `${inside}>${rkey}`;

    // 1. A flow to this remote already exists: conntrack finds it first.
    const byFlow = this.live(this.byFlow.get(flowKey), now);
    if (byFlow !== undefined && byFlow.flowTable.has(rkey)) {
      this.touchOut(byFlow, remote, now);
      return { ok: true, externalPort: byFlow.externalPort, how: 'flow' };
    }

    // 2. The mapping this flow belongs to under the mapping behaviour.
    const mkey = this.mappingKey(inside, remote);
    const existing = this.live(this.byKey.get(mkey), now);
    if (existing !== undefined) {
      if (!this.blocked(rkey, existing.externalPort, now)) {
        this.addFlow(existing, flowKey, remote, now);
        return { ok: true, externalPort: existing.externalPort, how: 'mapping' };
      }
      // The unreplied inbound entry holds this port for this remote: clash.
      return this.create(internal, remote, flowKey, null, now, true);
    }
    return this.create(internal, remote, flowKey, mkey, now, false);
  }

  /**
   * A packet from `remote` arrives at the NAT's public address, port
   * `externalPort`. `hairpin`: it comes from inside through the NAT; a drop
   * then leaves no unreplied entry (the clash is modelled for packets from
   * outside only: Linux has no hairpinning of its own to copy).
   */
  inbound(remote: UdpEndpoint, externalPort: number, now: number, hairpin = false): InboundDecision {
    if (++this.sinceSweep >= 4096) this.sweep(now);
    const rkey = key(remote.address, remote.port);
    const ukey = `${rkey}>${externalPort}`;
    // An unreplied inbound entry matches first and keeps absorbing packets.
    const entry = this.unreplied.get(ukey);
    if (entry !== undefined && entry > now) {
      this.unreplied.set(ukey, now + this.options.unrepliedTimeoutMs);
      return { ok: false, reason: 'unreplied-entry' };
    }
    const found = this.live(this.byPort.get(externalPort), now);
    const admitted = found !== undefined && this.admits(found, remote, rkey);
    // A packet the masquerade state does not take is new to conntrack: a forward's DNAT rule may take it.
    const m = admitted ? found : this.forwardFor(externalPort, rkey, now);
    if (m === undefined) {
      if (!hairpin) this.remember(ukey, rkey, externalPort, now);
      if (found === undefined) return { ok: false, reason: 'no-mapping' };
      this.stats.filtered++;
      return { ok: false, reason: 'filtered' };
    }
    let f = m.flowTable.get(rkey);
    if (f === undefined) {
      f = { remote: rkey, remoteAddress: remote.address, seenOut: false, seenIn: true, expiresAt: 0 };
      m.flowTable.set(rkey, f);
      this.byFlow.set(`${key(m.internal.address, m.internal.port)}>${rkey}`, m);
    }
    f.seenIn = true;
    f.expiresAt = now + this.timeout(f);
    return { ok: true, internal: m.internal, mappingId: m.id };
  }

  /** The forward on `port` that takes a packet from `rkey`: its live flow with it, or its rule. */
  private forwardFor(port: number, rkey: string, now: number): Mapping | undefined {
    const f = this.live(this.forwardsByPort.get(port), now);
    if (f === undefined) return undefined;
    return f.ruleActive || f.flowTable.has(rkey) ? f : undefined;
  }

  private admits(m: Mapping, remote: UdpEndpoint, rkey: string): boolean {
    switch (this.options.filtering) {
      case 'endpoint-independent':
        return true;
      case 'address-dependent':
        for (const f of m.flowTable.values()) if (f.seenOut && f.remoteAddress === remote.address) return true;
        return false;
      case 'address-and-port-dependent':
        return m.flowTable.get(rkey)?.seenOut === true;
    }
  }

  private remember(ukey: string, rkey: string, port: number, now: number): void {
    if (!this.options.conntrackClash) return;
    const had = this.unreplied.get(ukey);
    if (had === undefined || had <= now) {
      this.stats.unrepliedEntries++;
      this.events.push({ what: 'unreplied-entry', detail: `${rkey} -> :${port}` });
    }
    this.unreplied.set(ukey, now + this.options.unrepliedTimeoutMs);
  }

  private blocked(rkey: string, port: number, now: number): boolean {
    if (!this.options.conntrackClash) return false;
    const exp = this.unreplied.get(`${rkey}>${port}`);
    return exp !== undefined && exp > now;
  }

  private mappingKey(inside: string, remote: UdpEndpoint): string {
    switch (this.options.mapping) {
      case 'endpoint-independent':
        return inside;
      case 'address-dependent':
        return `${inside}>${remote.address}`;
      case 'address-and-port-dependent':
        return `${inside}>${remote.address}:${remote.port}`;
    }
  }

  private create(
    internal: UdpEndpoint,
    remote: UdpEndpoint,
    flowKey: string,
    mkey: string | null,
    now: number,
    clash: boolean,
  ): OutboundDecision {
    const rkey = key(remote.address, remote.port);
    if (this.byPort.size >= this.options.maxMappings) this.sweep(now);
    if (this.byPort.size >= this.options.maxMappings) {
      this.stats.refused++;
      return { ok: false, reason: 'nat-table-full' };
    }
    const port = this.allocate(internal.port, rkey, now);
    if (port === null) {
      this.stats.refused++;
      return { ok: false, reason: 'nat-ports-exhausted' };
    }
    const inside = key(internal.address, internal.port);
    const m = new Mapping(
      this.nextId++,
      { address: internal.address, port: internal.port },
      port,
      mkey ?? `${inside}>${rkey}#pinned`,
      clash ? rkey : null,
      now,
    );
    this.byPort.set(port, m);
    if (mkey !== null) this.byKey.set(mkey, m);
    this.addFlow(m, flowKey, remote, now);
    this.stats.mappingsCreated++;
    const preserved = port === internal.port;
    if (clash) {
      this.stats.clashes++;
      this.events.push({ what: 'clash', detail: `${inside} -> ${rkey}: unreplied entry holds the port, using :${port}` });
    }
    this.events.push({ what: 'mapping-created', detail: `${inside} -> :${port}${preserved ? ' (preserved)' : ''}` });
    return { ok: true, externalPort: port, how: clash ? 'clash' : 'new', preserved };
  }

  private addFlow(m: Mapping, flowKey: string, remote: UdpEndpoint, now: number): void {
    const rkey = key(remote.address, remote.port);
    let f = m.flowTable.get(rkey);
    if (f === undefined) {
      f = { remote: rkey, remoteAddress: remote.address, seenOut: true, seenIn: false, expiresAt: 0 };
      m.flowTable.set(rkey, f);
      this.byFlow.set(flowKey, m);
    }
    f.seenOut = true;
    f.expiresAt = now + this.timeout(f);
  }

  private touchOut(m: Mapping, remote: UdpEndpoint, now: number): void {
    const f = m.flowTable.get(key(remote.address, remote.port))!;
    f.seenOut = true;
    f.expiresAt = now + this.timeout(f);
  }

  private timeout(f: Flow): number {
    return f.seenIn && f.seenOut ? this.options.streamTimeoutMs : this.options.unrepliedTimeoutMs;
  }

  /** Returns `m` if it still has a live flow (or, for a forward, its rule); removes it otherwise. */
  private live(m: Mapping | undefined, now: number): Mapping | undefined {
    if (m === undefined || m.removed) return undefined;
    if (m.prune(now) || m.ruleActive) return m;
    this.remove(m);
    return undefined;
  }

  private remove(m: Mapping): void {
    m.removed = true;
    if (m.forward) {
      // The rule was deleted earlier (traced then); its last flow has now ended.
      if (this.forwardsByPort.get(m.externalPort) === m) this.forwardsByPort.delete(m.externalPort);
      return;
    }
    if (this.byPort.get(m.externalPort) === m) this.byPort.delete(m.externalPort);
    if (this.byKey.get(m.key) === m) this.byKey.delete(m.key);
    this.stats.mappingsExpired++;
    this.events.push({
      what: 'mapping-expired',
      detail: `${m.internal.address}:${m.internal.port} -> :${m.externalPort}`,
    });
  }

  private sweep(now: number): void {
    this.sinceSweep = 0;
    for (const m of [...this.byPort.values()]) this.live(m, now);
    for (const f of [...this.forwardsByPort.values()]) this.live(f, now);
    for (const [k, m] of this.byFlow) if (m.removed) this.byFlow.delete(k);
    for (const [k, exp] of this.unreplied) if (exp <= now) this.unreplied.delete(k);
  }

  private portFree(port: number, rkey: string, now: number): boolean {
    const { min, max } = this.options.portRange;
    if (port < min || port > max) return false;
    if (this.live(this.byPort.get(port), now) !== undefined) return false;
    return !this.blocked(rkey, port, now);
  }

  private allocate(insidePort: number, rkey: string, now: number): number | null {
    const { min, max } = this.options.portRange;
    const size = max - min + 1;
    switch (this.options.portAllocation) {
      case 'preserving':
        if (this.portFree(insidePort, rkey, now)) return insidePort;
        return this.randomFree(rkey, now);
      case 'random':
        return this.randomFree(rkey, now);
      case 'sequential': {
        let p = this.nextSequential;
        for (let i = 0; i < size; i++) {
          if (this.portFree(p, rkey, now)) {
            this.nextSequential = wrap(p + this.options.portStep, min, max);
            return p;
          }
          p = wrap(p + this.options.portStep, min, max);
        }
        return this.scan(min, rkey, now);
      }
    }
  }

  private randomFree(rkey: string, now: number): number | null {
    const { min, max } = this.options.portRange;
    for (let i = 0; i < 64; i++) {
      const p = this.rng.int(min, max);
      if (this.portFree(p, rkey, now)) return p;
    }
    return this.scan(this.rng.int(min, max), rkey, now);
  }

  private scan(start: number, rkey: string, now: number): number | null {
    const { min, max } = this.options.portRange;
    let p = start;
    for (let i = 0; i <= max - min; i++) {
      if (this.portFree(p, rkey, now)) return p;
      p = wrap(p + 1, min, max);
    }
    return null;
  }
}

function wrap(p: number, min: number, max: number): number {
  const size = max - min + 1;
  return min + ((((p - min) % size) + size) % size);
}

function splitUnrepliedKey(k: string): [string, number] {
  const i = k.lastIndexOf('>');
  return [k.slice(0, i), Number(k.slice(i + 1))];
}

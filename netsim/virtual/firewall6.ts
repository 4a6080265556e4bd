/**
 * The IPv6 side of a site router, sans-I/O: no address translation (the
 * site's /64 is routed, NAT66 is not done), and an RFC 6092 "simple
 * security" stateful firewall, as the kernel lane's site router runs it
 * (netsim/kernel/ipv6.ts: a forward chain with policy drop, `ct state
 * established,related accept`, everything from the LAN accepted):
 *
 * - outbound UDP always passes and opens (or refreshes) a flow: inside
 *   endpoint <-> remote endpoint;
 * - inbound UDP passes only on a live flow with exactly that remote address
 *   and port (endpoint-dependent filtering, RFC 6092 REC-11: the pinhole UDP
 *   hole punching over IPv6 relies on) and refreshes it;
 * - a flow lives like a conntrack UDP entry: `unrepliedTimeoutMs` until both
 *   directions have been seen, then `streamTimeoutMs`, from the last packet
 *   (the site's NAT lifetimes: the sysctls are per namespace, both families);
 * - an inbound packet that is dropped leaves nothing behind (its conntrack
 *   entry is never confirmed), so there is no clash as with the IPv4 NAT and
 *   two firewalled hosts that both send open the path (simultaneous open);
 * - at most `maxFlows` flows; a new outbound flow beyond that is refused.
 *
 * Time is passed in; nothing here touches a clock.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { endpointText } from './ip6.js';

export interface FirewallOptions {
  /** Flow seen in one direction only. Default 30 s (conntrack udp_timeout). */
  unrepliedTimeoutMs?: number;
  /** Flow seen both ways. Default 120 s (conntrack udp_timeout_stream). */
  streamTimeoutMs?: number;
  /** Most live flows. Default 65536. */
  maxFlows?: number;
}

export type FirewallOutbound = { ok: true; how: 'new' | 'flow' } | { ok: false; reason: 'fw-table-full' };
export type FirewallInbound = { ok: true } | { ok: false; reason: 'fw-filtered' };

/** Something the firewall did to its state, for the trace. */
export interface FirewallEvent {
  what: 'pinhole-opened' | 'pinhole-expired' | 'flushed';
  detail: string;
}

interface Flow {
  readonly inside: string;
  readonly remote: string;
  seenIn: boolean;
  expiresAt: number;
}

const SWEEP_EVERY = 4096;

export class Ipv6Firewall {
  readonly options: Required<FirewallOptions>;
  private readonly flows = new Map<string, Flow>();
  private sinceSweep = 0;
  private events: FirewallEvent[] = [];
  readonly stats = { opened: 0, expired: 0, filtered: 0, refused: 0 };

  constructor(options: FirewallOptions = {}) {
    this.options = {
      unrepliedTimeoutMs: options.unrepliedTimeoutMs ?? 30_000,
      streamTimeoutMs: options.streamTimeoutMs ?? 120_000,
      maxFlows: options.maxFlows ?? 65_536,
    };
    if (!(this.options.maxFlows >= 1)) throw new Error(`bad firewall table size ${this.options.maxFlows}`);
  }

  /** An inside endpoint sends to `remote`: always allowed (unless the table is full), opens or refreshes the flow. */
  outbound(inside: UdpEndpoint, remote: UdpEndpoint, now: number): FirewallOutbound {
    this.maybeSweep(now);
    const k = flowKey(inside, remote);
    const f = this.live(k, now);
    if (f !== undefined) {
      f.expiresAt = now + this.timeout(f);
      return { ok: true, how: 'flow' };
    }
    if (this.flows.size >= this.options.maxFlows) this.sweep(now);
    if (this.flows.size >= this.options.maxFlows) {
      this.stats.refused++;
      return { ok: false, reason: 'fw-table-full' };
    }
    const flow: Flow = { inside: endpointText(inside.address, inside.port), remote: endpointText(remote.address, remote.port), seenIn: false, expiresAt: 0 };
    flow.expiresAt = now + this.timeout(flow);
    this.flows.set(k, flow);
    this.stats.opened++;
    this.events.push({ what: 'pinhole-opened', detail: `${flow.inside} <-> ${flow.remote}` });
    return { ok: true, how: 'new' };
  }

  /** A packet from `remote` to the inside endpoint `inside` arrives from outside. */
  inbound(remote: UdpEndpoint, inside: UdpEndpoint, now: number): FirewallInbound {
    this.maybeSweep(now);
    const f = this.live(flowKey(inside, remote), now);
    if (f === undefined) {
      this.stats.filtered++;
      return { ok: false, reason: 'fw-filtered' };
    }
    f.seenIn = true;
    f.expiresAt = now + this.timeout(f);
    return { ok: true };
  }

  /** Live flows as "inside <-> remote" with their expiry (expired ones are removed first). */
  pinholes(now: number): Array<{ inside: string; remote: string; twoWay: boolean; expiresAt: number }> {
    this.sweep(now);
    return [...this.flows.values()].map((f) => ({ inside: f.inside, remote: f.remote, twoWay: f.seenIn, expiresAt: f.expiresAt }));
  }

  /** State changes since the last call (the router traces them). */
  drainEvents(): FirewallEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** `conntrack -F`: every flow forgotten. Returns how many. */
  flush(): number {
    const n = this.flows.size;
    this.flows.clear();
    this.sinceSweep = 0;
    this.events.push({ what: 'flushed', detail: `${n} flows` });
    return n;
  }

  private timeout(f: Flow): number {
    return f.seenIn ? this.options.streamTimeoutMs : this.options.unrepliedTimeoutMs;
  }

  private live(k: string, now: number): Flow | undefined {
    const f = this.flows.get(k);
    if (f === undefined) return undefined;
    if (f.expiresAt > now) return f;
    this.expire(k, f);
    return undefined;
  }

  private expire(k: string, f: Flow): void {
    this.flows.delete(k);
    this.stats.expired++;
    this.events.push({ what: 'pinhole-expired', detail: `${f.inside} <-> ${f.remote}` });
  }

  private maybeSweep(now: number): void {
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep(now);
  }

  private sweep(now: number): void {
    this.sinceSweep = 0;
    for (const [k, f] of this.flows) if (f.expiresAt <= now) this.expire(k, f);
  }
}

function flowKey(inside: UdpEndpoint, remote: UdpEndpoint): string {
  return `${endpointText(inside.address, inside.port)}>${endpointText(remote.address, remote.port)}`;
}

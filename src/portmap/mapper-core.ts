/**
 * The port mapper's decisions, sans-I/O: which protocol to use, when to
 * refresh, when a mapping was lost (router restart), when to give up and try
 * again later, and whether the external address is worth advertising.
 * The shell (port-mapper.ts) performs the actions it asks for — probe, map,
 * unmap — and reports back; time comes in as `now` (ms), deadlines go out.
 */
import { at } from '../util/at.js';
import { checkExternalAddress } from './ipv4.js';
import { PORTMAP_TIMERS } from './timers.js';

export type PortMapProtocol = 'pcp' | 'natpmp' | 'upnp';
/** PCP is NAT-PMP's successor; UPnP last (heavier, and more often wrong about forwarding). */
export const PROTOCOL_PREFERENCE: readonly PortMapProtocol[] = ['pcp', 'natpmp', 'upnp'];

export const PROTOCOL_NAMES: Record<PortMapProtocol, string> = { pcp: 'PCP', natpmp: 'NAT-PMP', upnp: 'UPnP IGD' };

export type PortMapEvent =
  | { type: 'mapped'; protocol: PortMapProtocol; externalAddress: string; externalPort: number; lifetimeSeconds: number }
  | { type: 'lost'; protocol: PortMapProtocol; reason: string }
  /** `externalAddress`: the unusable address the router named (behind-nat / no-address), when it named one. */
  | { type: 'failed'; kind: 'no-service' | 'refused' | 'behind-nat' | 'no-address'; reason: string; externalAddress?: string };

/** What the router granted, as the shell read it. */
export interface Grant {
  protocol: PortMapProtocol;
  externalAddress: string;
  externalPort: number;
  lifetimeSeconds: number;
  /** NAT-PMP/PCP seconds since the router's mapping table started. */
  epoch?: number;
  /** UPnP: on refresh, the router no longer had our mapping before we added it again. */
  previousMissing?: boolean;
}

export type PortMapAction =
  | { kind: 'probe' }
  | { kind: 'map'; protocol: PortMapProtocol; suggestedExternalPort: number; refresh: boolean }
  | { kind: 'unmap'; protocol: PortMapProtocol; externalPort: number }
  | { kind: 'event'; event: PortMapEvent };

export interface MapperCoreOptions {
  internalPort: number;
  /** Protocols allowed, default all; tried in PROTOCOL_PREFERENCE order. */
  protocols?: readonly PortMapProtocol[];
  /** Refresh at least this often regardless of the lifetime (tests; routers that forget early). */
  maxRefreshIntervalMs?: number;
}

type Phase = 'idle' | 'probing' | 'mapping' | 'mapped' | 'refreshing' | 'waiting' | 'closed';

interface Current extends Grant {
  grantedAt: number;
  expiresAt: number;
}

export class PortMapperCore {
  private phase: Phase = 'idle';
  private readonly allowed: readonly PortMapProtocol[];
  private candidates: PortMapProtocol[] = [];
  private failures: string[] = [];
  /** Set while mapping when a refusal named an external address in private or shared space. */
  private behindNat: { reason: string; externalAddress: string } | null = null;
  private current: Current | null = null;
  /** Epoch bookkeeping per protocol, kept across re-maps (a restart shows as the epoch going back). */
  private lastEpoch = new Map<PortMapProtocol, { epoch: number; at: number }>();
  private timerAt: number | null = null;
  private readonly actions: PortMapAction[] = [];

  constructor(private readonly opts: MapperCoreOptions) {
    const wanted = opts.protocols ?? PROTOCOL_PREFERENCE;
    this.allowed = PROTOCOL_PREFERENCE.filter((p) => wanted.includes(p));
  }

  get state(): Phase {
    return this.phase;
  }

  /** The live mapping, if any. */
  get mapping(): Grant | null {
    return this.current === null ? null : { ...this.current };
  }

  /** Actions queued since the last call, in order. */
  takeActions(): PortMapAction[] {
    return this.actions.splice(0, this.actions.length);
  }

  nextDeadline(): number | null {
    return this.phase === 'closed' ? null : this.timerAt;
  }

  start(now: number): void {
    if (this.phase !== 'idle') return;
    this.probe(now);
  }

  /** The probe's verdict: which protocols answered. */
  probed(available: ReadonlySet<PortMapProtocol>, now: number): void {
    if (this.phase !== 'probing') return;
    this.candidates = this.allowed.filter((p) => available.has(p));
    this.failures = [];
    this.behindNat = null;
    if (this.candidates.length === 0) {
      const tried = this.allowed.map((p) => PROTOCOL_NAMES[p]).join(', ');
      this.fail(now, 'no-service', `no port-mapping service answered (${tried})`, PORTMAP_TIMERS.retryAfterFailureMs);
      return;
    }
    this.phase = 'mapping';
    this.requestMap(at(this.candidates, 0), this.opts.internalPort, false);
  }

  mapSucceeded(grant: Grant, now: number): void {
    if (this.phase !== 'mapping' && this.phase !== 'refreshing') return;
    const verdict = checkExternalAddress(grant.externalAddress);
    const previous = this.current;
    const restart = this.restartReason(previous, grant, now);
    if (grant.epoch !== undefined) this.lastEpoch.set(grant.protocol, { epoch: grant.epoch, at: now });
    if (!verdict.ok) {
      // The router mapped, but the address it maps to is not on the internet: release it.
      this.current = null;
      this.actions.push({ kind: 'unmap', protocol: grant.protocol, externalPort: grant.externalPort });
      if (previous !== null) this.emit({ type: 'lost', protocol: previous.protocol, reason: verdict.reason });
      this.fail(now, verdict.kind, verdict.reason, PORTMAP_TIMERS.retryAfterUnusableAddressMs, grant.externalAddress);
      return;
    }
    const changed =
      previous === null ||
      previous.protocol !== grant.protocol ||
      previous.externalAddress !== grant.externalAddress ||
      previous.externalPort !== grant.externalPort;
    if (previous !== null && (restart !== null || changed)) {
      this.emit({ type: 'lost', protocol: previous.protocol, reason: restart ?? 'the router moved the mapping' });
    }
    const refreshIn = Math.min(
      grant.lifetimeSeconds * 1000 * PORTMAP_TIMERS.refreshFraction,
      this.opts.maxRefreshIntervalMs ?? Number.POSITIVE_INFINITY,
    );
    this.current = { ...grant, grantedAt: now, expiresAt: now + grant.lifetimeSeconds * 1000 };
    this.phase = 'mapped';
    this.timerAt = now + Math.max(PORTMAP_TIMERS.minRefreshIntervalMs, refreshIn);
    if (previous === null || restart !== null || changed) {
      this.emit({
        type: 'mapped',
        protocol: grant.protocol,
        externalAddress: grant.externalAddress,
        externalPort: grant.externalPort,
        lifetimeSeconds: grant.lifetimeSeconds,
      });
    }
  }

  /**
   * The router did not map. `externalAddress`: an address the refusal named
   * anyway; when it is private or shared space, that is the real reason.
   */
  mapFailed(protocol: PortMapProtocol, reason: string, now: number, externalAddress?: string): void {
    if (this.phase === 'mapping') {
      const verdict = externalAddress === undefined ? null : checkExternalAddress(externalAddress);
      if (verdict !== null && !verdict.ok && verdict.kind === 'behind-nat' && externalAddress !== undefined) {
        this.behindNat = { reason: `${PROTOCOL_NAMES[protocol]} ${reason}: ${verdict.reason}`, externalAddress };
      }
      this.failures.push(`${PROTOCOL_NAMES[protocol]}: ${reason}`);
      const next = this.candidates[this.candidates.indexOf(protocol) + 1];
      if (next !== undefined) {
        this.requestMap(next, this.opts.internalPort, false);
        return;
      }
      if (this.behindNat !== null) {
        this.fail(now, 'behind-nat', this.behindNat.reason, PORTMAP_TIMERS.retryAfterUnusableAddressMs, this.behindNat.externalAddress);
        return;
      }
      this.fail(now, 'refused', `every port-mapping service failed (${this.failures.join('; ')})`, PORTMAP_TIMERS.retryAfterFailureMs);
      return;
    }
    if (this.phase === 'refreshing' && this.current !== null) {
      if (now >= this.current.expiresAt) {
        this.expire(now, reason);
        return;
      }
      // Keep the mapping we have until it would expire; try again before then.
      this.phase = 'mapped';
      this.timerAt = Math.min(now + PORTMAP_TIMERS.refreshRetryMs, this.current.expiresAt);
    }
  }

  /** Runs whatever is due at `now`. */
  poll(now: number): void {
    if (this.timerAt === null || now < this.timerAt) return;
    this.timerAt = null;
    if (this.phase === 'waiting') {
      this.probe(now);
    } else if (this.phase === 'mapped' && this.current !== null) {
      if (now >= this.current.expiresAt) {
        this.expire(now, 'refreshes failed');
        return;
      }
      this.phase = 'refreshing';
      this.requestMap(this.current.protocol, this.current.externalPort, true);
    }
  }

  /** Stops; asks the shell to delete the live mapping, if any. */
  close(): void {
    if (this.phase === 'closed') return;
    if (this.current !== null) this.actions.push({ kind: 'unmap', protocol: this.current.protocol, externalPort: this.current.externalPort });
    this.current = null;
    this.phase = 'closed';
    this.timerAt = null;
  }

  private probe(_now: number): void {
    this.phase = 'probing';
    this.timerAt = null;
    this.actions.push({ kind: 'probe' });
  }

  private requestMap(protocol: PortMapProtocol, suggestedExternalPort: number, refresh: boolean): void {
    this.timerAt = null;
    this.actions.push({ kind: 'map', protocol, suggestedExternalPort, refresh });
  }

  private fail(
    now: number,
    kind: Extract<PortMapEvent, { type: 'failed' }>['kind'],
    reason: string,
    retryMs: number,
    externalAddress?: string,
  ): void {
    this.phase = 'waiting';
    this.timerAt = now + retryMs;
    this.emit({ type: 'failed', kind, reason, ...(externalAddress !== undefined ? { externalAddress } : {}) });
  }

  private expire(now: number, why: string): void {
    const protocol = this.current?.protocol ?? 'upnp';
    this.current = null;
    this.emit({ type: 'lost', protocol, reason: `the mapping expired: ${why}` });
    this.probe(now);
  }

  /** Why `grant` shows the router lost its table since `previous`, or null. */
  private restartReason(previous: Current | null, grant: Grant, now: number): string | null {
    if (previous === null || previous.protocol !== grant.protocol) return null;
    if (grant.previousMissing === true) return 'the router no longer had the mapping (restarted or flushed)';
    const last = this.lastEpoch.get(grant.protocol);
    if (grant.epoch === undefined || last === undefined) return null;
    return epochSaysRestarted(grant.protocol, last.epoch, last.at, grant.epoch, now)
      ? `the router restarted (epoch ${last.epoch} s went to ${grant.epoch} s)`
      : null;
  }

  private emit(event: PortMapEvent): void {
    this.actions.push({ kind: 'event', event });
  }
}

/**
 * The epoch rules. NAT-PMP (RFC 6886 section 3.6): the new epoch must be at
 * least the old one plus 7/8 of the elapsed time, minus 2 s. PCP (RFC 6887
 * section 8.5): client and server deltas must agree within 1/16 plus 2 s, in
 * both directions.
 */
export function epochSaysRestarted(protocol: PortMapProtocol, prevEpoch: number, prevAtMs: number, epoch: number, nowMs: number): boolean {
  const clientDelta = Math.max(0, (nowMs - prevAtMs) / 1000);
  if (protocol === 'natpmp') return epoch < prevEpoch + (clientDelta * 7) / 8 - 2;
  if (epoch < prevEpoch) return true;
  const serverDelta = epoch - prevEpoch;
  return serverDelta + 2 < clientDelta - clientDelta / 16 || clientDelta + 2 < serverDelta - serverDelta / 16;
}

import type { ClusterTimers } from './timers.js';

/**
 * What Redis said to a renew (one Lua script, RENEW_LEASE in scripts.ts):
 * `extended` our value was there and its TTL was reset; `created` the key
 * was missing and now holds our value; `taken` another value (another
 * incarnation of this node id, or garbage) holds it; `error` no answer.
 */
export type RenewResult = 'extended' | 'created' | 'taken' | 'error';

export type LeaseLossReason =
  /** Redis no longer had the key (it restarted, or the lease expired there). */
  | 'gone'
  /** Another value holds the key: another process runs with this node id. */
  | 'taken'
  /** No refresh confirmed for a whole TTL (Redis unreachable): Redis may have dropped it. */
  | 'expired';

export type LeaseOutput =
  /** Send the renew script; report its answer with renewed(result, sentAt). */
  | { readonly kind: 'renew'; readonly sentAt: number }
  /** The lease is (again) held: re-claim every name this node holds. */
  | { readonly kind: 'acquired' }
  | { readonly kind: 'lost'; readonly reason: LeaseLossReason };

export interface LeaseStatus {
  readonly held: boolean;
  /** Since the send of the last renew Redis confirmed; null before the first. */
  readonly ageMs: number | null;
  readonly losses: number;
}

/**
 * A node's lease, sans-I/O: when to renew, what a renew's answer means, and
 * when the lease must count as lapsed without Redis saying so. One renew is
 * in flight at a time. Inputs: the clock and renew answers; outputs (takeOutputs)
 * renews and events; nextDeadline() says when handleTimeout() has work.
 */
export class LeaseMachine {
  private held = false;
  private inFlight = false;
  private closed = false;
  private nextRenewAt: number;
  /** Send time of the last confirmed renew: the lease lives at least until this + TTL in Redis. */
  private confirmedAt: number | null = null;
  private losses = 0;
  private outputs: LeaseOutput[] = [];

  constructor(
    private readonly timers: Pick<ClusterTimers, 'leaseTtlMs' | 'leaseRefreshMs' | 'leaseRetryMs'>,
    now: number,
  ) {
    this.nextRenewAt = now;
  }

  takeOutputs(): LeaseOutput[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  nextDeadline(): number | null {
    if (this.closed) return null;
    const renew = this.inFlight ? null : this.nextRenewAt;
    const expiry = this.held && this.confirmedAt !== null ? this.confirmedAt + this.timers.leaseTtlMs : null;
    if (renew === null) return expiry;
    return expiry === null ? renew : Math.min(renew, expiry);
  }

  handleTimeout(now: number): void {
    if (this.closed) return;
    if (this.held && this.confirmedAt !== null && now >= this.confirmedAt + this.timers.leaseTtlMs) this.lose('expired');
    if (!this.inFlight && now >= this.nextRenewAt) {
      this.inFlight = true;
      this.outputs.push({ kind: 'renew', sentAt: now });
    }
  }

  /** Renew now, whatever the schedule (Redis reconnected: it may have lost everything). */
  renewSoon(now: number): void {
    this.nextRenewAt = Math.min(this.nextRenewAt, now);
  }

  /** The answer to the renew sent at `sentAt`. */
  renewed(result: RenewResult, sentAt: number, now: number): void {
    if (this.closed) return;
    this.inFlight = false;
    switch (result) {
      case 'extended':
      case 'created': {
        // A key we had to create means Redis forgot ours: anything that held on it (claims) is gone too.
        if (this.held && result === 'created') this.lose('gone');
        this.confirmedAt = Math.max(this.confirmedAt ?? sentAt, sentAt);
        // An answer older than a whole TTL confirms nothing that is still true.
        if (now >= this.confirmedAt + this.timers.leaseTtlMs) {
          this.nextRenewAt = now;
          return;
        }
        if (!this.held) {
          this.held = true;
          this.outputs.push({ kind: 'acquired' });
        }
        this.nextRenewAt = sentAt + this.timers.leaseRefreshMs;
        return;
      }
      case 'taken':
        if (this.held) this.lose('taken');
        this.nextRenewAt = now + this.timers.leaseRetryMs;
        return;
      case 'error':
        this.nextRenewAt = now + this.timers.leaseRetryMs;
        return;
    }
  }

  status(now: number): LeaseStatus {
    return { held: this.held, ageMs: this.confirmedAt === null ? null : now - this.confirmedAt, losses: this.losses };
  }

  /** Stops: no more renews, no events. */
  close(): void {
    this.closed = true;
    this.outputs = [];
  }

  private lose(reason: LeaseLossReason): void {
    if (!this.held) return;
    this.held = false;
    this.losses++;
    this.outputs.push({ kind: 'lost', reason });
  }
}

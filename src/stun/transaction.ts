/**
 * One Binding transaction on the client side, sans-I/O (RFC 8489 section
 * 6.2.1): send, retransmit after RTO doubling from 500 ms, give up after a
 * bounded number of sends or at the deadline, whichever comes first. A
 * response counts only if its transaction id matches and it comes from a
 * source the caller expects (the server, or for CHANGE-REQUEST the address
 * the server said it would answer from).
 */
import type { UdpEndpoint } from '../net/udp-socket.js';
import { sameEndpoint } from '../net/endpoint.js';
import { readBindingResponse, readErrorCode, type BindingResponseInfo } from './binding.js';
import { Method } from './constants.js';
import { transactionKey, type StunMessage } from './message.js';

export const DEFAULT_RTO_MS = 500;
/** RFC 8489's Rc. */
export const DEFAULT_MAX_SENDS = 7;
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 3000;

export interface TransactionOptions {
  /** Header bytes 4..19 of `request`. */
  id: Uint8Array;
  request: Uint8Array;
  to: UdpEndpoint;
  /** Sources a response is accepted from. Default: only `to`. 'any' accepts any source. */
  acceptFrom?: readonly UdpEndpoint[] | 'any';
  rtoMs?: number;
  maxSends?: number;
  /** Give up this long after the first send. */
  timeoutMs?: number;
}

export type TransactionResult =
  | {
      ok: true;
      /** What the response says (mapped address, other address, origin). */
      info: BindingResponseInfo;
      response: StunMessage;
      /** Where the response came from. */
      from: UdpEndpoint;
      /** Time from the first send to the response. */
      elapsedMs: number;
      sends: number;
    }
  | {
      ok: false;
      reason: 'timeout' | 'error-response' | 'cancelled' | 'busy';
      sends: number;
      error?: { code: number; reason: string };
    };

export class BindingTransaction {
  readonly key: string;
  readonly to: UdpEndpoint;
  private readonly request: Uint8Array;
  private readonly acceptFrom: readonly UdpEndpoint[] | 'any';
  private readonly maxSends: number;
  private readonly startedAt: number;
  private readonly deadline: number;
  private rto: number;
  private sends = 0;
  private nextSendAt: number;
  private outcome: TransactionResult | null = null;

  constructor(opts: TransactionOptions, now: number) {
    this.key = transactionKey(opts.id);
    this.to = opts.to;
    this.request = opts.request;
    this.acceptFrom = opts.acceptFrom ?? [opts.to];
    this.rto = opts.rtoMs ?? DEFAULT_RTO_MS;
    this.maxSends = Math.max(1, opts.maxSends ?? DEFAULT_MAX_SENDS);
    this.startedAt = now;
    this.deadline = now + (opts.timeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS);
    this.nextSendAt = now;
  }

  get result(): TransactionResult | null {
    return this.outcome;
  }

  get done(): boolean {
    return this.outcome !== null;
  }

  /**
   * Advances to `now`: returns the request if a (re)transmission is due, and
   * ends the transaction with 'timeout' once the deadline has passed.
   */
  poll(now: number): Uint8Array | null {
    if (this.outcome !== null) return null;
    if (now >= this.deadline) {
      this.outcome = { ok: false, reason: 'timeout', sends: this.sends };
      return null;
    }
    if (now < this.nextSendAt || this.sends >= this.maxSends) return null;
    this.sends++;
    this.nextSendAt = now + this.rto;
    this.rto *= 2;
    return this.request;
  }

  /** When poll() must be called next; null once done. */
  nextDeadline(): number | null {
    if (this.outcome !== null) return null;
    return this.sends >= this.maxSends ? this.deadline : Math.min(this.nextSendAt, this.deadline);
  }

  /** Offers a decoded message with this transaction's key; true when it ended the transaction. */
  receive(msg: StunMessage, from: UdpEndpoint, now: number): boolean {
    if (this.outcome !== null || msg.method !== Method.Binding) return false;
    if (msg.cls !== 'success' && msg.cls !== 'error') return false;
    if (!this.accepts(from)) return false;
    if (msg.cls === 'error') {
      const error = readErrorCode(msg) ?? undefined;
      this.outcome = { ok: false, reason: 'error-response', sends: this.sends, ...(error ? { error } : {}) };
      return true;
    }
    this.outcome = {
      ok: true,
      info: readBindingResponse(msg),
      response: msg,
      from: { address: from.address, port: from.port },
      elapsedMs: now - this.startedAt,
      sends: this.sends,
    };
    return true;
  }

  cancel(): void {
    if (this.outcome === null) this.outcome = { ok: false, reason: 'cancelled', sends: this.sends };
  }

  private accepts(from: UdpEndpoint): boolean {
    if (this.acceptFrom === 'any') return true;
    return this.acceptFrom.some((e) => sameEndpoint(e, from));
  }
}

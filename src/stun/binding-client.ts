/**
 * Binding requests on a UDP socket the client does not own.
 *
 * A socket has one message handler, and a peer's socket carries STUN, punch
 * probes and session packets at once (a NAT mapping belongs to a socket). So
 * the owner keeps the handler and passes STUN-looking datagrams on:
 *
 *   socket.onMessage((data, from) => {
 *     if (looksLikeStun(data[0]) && stun.handle(data, from)) return;
 *     ...the owner's own traffic...
 *   });
 *
 * handle() returns true only for a response to one of this client's pending
 * requests; anything else is left to the owner. The client only ever sends
 * its requests and never touches the handler, the TTL or the socket's life.
 */
import { randomBytes } from 'node:crypto';
import type { Scheduler, TimerHandle } from '../clock/scheduler.js';
import { realScheduler } from '../clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { encodeBindingRequest, newStunId } from './binding.js';
import { decodeMessage, transactionKey } from './message.js';
import { BindingTransaction, type TransactionResult } from './transaction.js';

export interface BindingClientOptions {
  scheduler?: Scheduler;
  /** Source of transaction ids (tests inject a seeded one). Default node:crypto. */
  random?: (size: number) => Uint8Array;
  /** Requests in flight at most; more are refused with reason 'busy'. Default 64. */
  maxPending?: number;
}

export interface BindingQuery {
  to: UdpEndpoint;
  changeIp?: boolean;
  changePort?: boolean;
  /** Sources a response is accepted from. Default: only `to`. */
  acceptFrom?: readonly UdpEndpoint[] | 'any';
  timeoutMs?: number;
  rtoMs?: number;
  maxSends?: number;
  /** Request size to pad to (see PADDED_REQUEST_SIZE); 0 = no padding. */
  padTo?: number;
}

export interface BindingClientStats {
  requests: number;
  answered: number;
  timedOut: number;
  /** STUN-looking datagrams handed to handle() that were not ours or did not decode. */
  ignored: number;
}

interface Pending {
  tx: BindingTransaction;
  timer: TimerHandle | null;
  resolve: (r: TransactionResult) => void;
}

export class BindingClient {
  private readonly scheduler: Scheduler;
  private readonly random: (size: number) => Uint8Array;
  private readonly maxPending: number;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  readonly stats: BindingClientStats = { requests: 0, answered: 0, timedOut: 0, ignored: 0 };

  constructor(
    private readonly socket: UdpSocket,
    opts: BindingClientOptions = {},
  ) {
    this.scheduler = opts.scheduler ?? realScheduler;
    this.random = opts.random ?? ((n) => randomBytes(n));
    this.maxPending = opts.maxPending ?? 64;
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends a Binding request and resolves with the answer or why there was none. Never rejects. */
  request(q: BindingQuery): Promise<TransactionResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'cancelled', sends: 0 });
    if (this.pending.size >= this.maxPending) return Promise.resolve({ ok: false, reason: 'busy', sends: 0 });
    const id = newStunId(this.random);
    const request = encodeBindingRequest({
      id,
      ...(q.changeIp ? { changeIp: true } : {}),
      ...(q.changePort ? { changePort: true } : {}),
      ...(q.padTo !== undefined ? { padTo: q.padTo } : {}),
    });
    const tx = new BindingTransaction(
      {
        id,
        request,
        to: q.to,
        ...(q.acceptFrom !== undefined ? { acceptFrom: q.acceptFrom } : {}),
        ...(q.timeoutMs !== undefined ? { timeoutMs: q.timeoutMs } : {}),
        ...(q.rtoMs !== undefined ? { rtoMs: q.rtoMs } : {}),
        ...(q.maxSends !== undefined ? { maxSends: q.maxSends } : {}),
      },
      this.scheduler.now(),
    );
    this.stats.requests++;
    return new Promise((resolve) => {
      const p: Pending = { tx, timer: null, resolve };
      this.pending.set(tx.key, p);
      this.step(p);
    });
  }

  /**
   * Asks several servers at once. Each answer or timeout is independent: a
   * server that never answers costs its own timeout and nothing else.
   */
  requestAll(queries: readonly BindingQuery[]): Promise<TransactionResult[]> {
    return Promise.all(queries.map((q) => this.request(q)));
  }

  /**
   * Offers a datagram the owner received. True when it was the response to
   * one of our pending requests (the owner should then ignore it).
   */
  handle(data: Uint8Array, from: UdpEndpoint): boolean {
    if (this.pending.size === 0) return this.ignore();
    const d = decodeMessage(data);
    if (!d.ok) return this.ignore();
    const p = this.pending.get(transactionKey(d.message.id));
    if (p === undefined) return this.ignore();
    if (!p.tx.receive(d.message, from, this.scheduler.now())) return this.ignore();
    this.finish(p);
    return true;
  }

  /** Ends every pending request with 'cancelled'. The socket stays open: it is not ours. */
  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) {
      p.tx.cancel();
      this.finish(p);
    }
  }

  private step(p: Pending): void {
    p.timer = null;
    const now = this.scheduler.now();
    const out = p.tx.poll(now);
    if (out !== null) this.socket.send(out, p.tx.to);
    if (p.tx.done) {
      this.finish(p);
      return;
    }
    const next = p.tx.nextDeadline();
    if (next !== null) p.timer = this.scheduler.at(next, () => this.step(p));
  }

  private finish(p: Pending): void {
    p.timer?.cancel();
    p.timer = null;
    if (this.pending.get(p.tx.key) !== p) return;
    this.pending.delete(p.tx.key);
    const r = p.tx.result!;
    if (r.ok) this.stats.answered++;
    else if (r.reason === 'timeout') this.stats.timedOut++;
    p.resolve(r);
  }

  private ignore(): false {
    this.stats.ignored++;
    return false;
  }
}

/**
 * Outstanding ping() calls: opaque id -> start time, promise, timeout timer.
 * Bounded (more is a caller bug and is refused) and every timer is unref'd
 * and cleared on answer, timeout or close.
 */
import { performance } from 'node:perf_hooks';
import { BurrowError } from '../errors.js';
import { MAX_U32 } from './protocol.js';

interface PendingPing {
  readonly start: number;
  readonly resolve: (rttMs: number) => void;
  readonly reject: (err: BurrowError) => void;
  readonly timer: NodeJS.Timeout;
}

export class PingTracker {
  private readonly pending = new Map<number, PendingPing>();
  /** 1..2^32-1; opaque 0 is left to keepalive pings, whose answers need no bookkeeping. */
  private nextId = 1;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /**
   * Registers a ping; `send(id)` is called once to put it on the wire.
   * Rejects with ERR_MUX_TIMEOUT after `timeoutMs` without an answer.
   */
  start(timeoutMs: number, send: (id: number) => void): Promise<number> {
    if (this.pending.size >= this.max) {
      return Promise.reject(new BurrowError('ERR_INVALID_ARGUMENT', `too many mux pings in flight (${this.max})`));
    }
    let id = this.nextId;
    while (this.pending.has(id)) id = id >= MAX_U32 ? 1 : id + 1;
    this.nextId = id >= MAX_U32 ? 1 : id + 1;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BurrowError('ERR_MUX_TIMEOUT', `mux ping unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { start: performance.now(), resolve, reject, timer });
      send(id);
    });
  }

  /** A PING|ACK arrived. Unknown ids (keepalive, timed out) are ignored. */
  answer(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(performance.now() - p.start);
  }

  rejectAll(err: BurrowError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

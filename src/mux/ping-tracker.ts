/**
 * Outstanding ping() calls: opaque id -> start time, promise, timeout timer.
 * Bounded (more is a caller bug and is refused); every timer (from a
 * Scheduler) is cleared on answer, timeout or close.
 */
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import { BurrowError } from '../errors.js';
import { MAX_U32 } from './protocol.js';

interface PendingPing {
  readonly start: number;
  readonly resolve: (rttMs: number) => void;
  readonly reject: (err: BurrowError) => void;
  readonly timer: TimerHandle;
}

export class PingTracker {
  private readonly pending = new Map<number, PendingPing>();
  /** 1..2^32-1; opaque 0 is left to keepalive pings, whose answers need no bookkeeping. */
  private nextId = 1;
  private readonly max: number;

  constructor(
    max: number,
    private readonly scheduler: Scheduler = realScheduler,
  ) {
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
      const timer = this.scheduler.at(this.scheduler.now() + timeoutMs, () => {
        this.pending.delete(id);
        reject(new BurrowError('ERR_MUX_TIMEOUT', `mux ping unanswered after ${timeoutMs} ms`));
      });
      this.pending.set(id, { start: this.scheduler.now(), resolve, reject, timer });
      send(id);
    });
  }

  /** A PING|ACK arrived. Unknown ids (keepalive, timed out) are ignored. */
  answer(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.timer.cancel();
    p.resolve(this.scheduler.now() - p.start);
  }

  rejectAll(err: BurrowError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      p.timer.cancel();
      p.reject(err);
    }
  }
}

import type { Scheduler, TimerHandle } from '../../src/clock/scheduler.js';

interface VirtualEvent extends TimerHandle {
  readonly time: number;
  readonly seq: number;
  fn: (() => void) | null;
}

/**
 * A fake clock with an event queue. Events at the same time run in the order
 * they were scheduled, so a run is repeatable event for event.
 *
 * Between two instants the scheduler yields to the real event loop once, so
 * Node streams (which use nextTick and microtasks) settle at the current
 * virtual time before the clock moves on.
 */
export class VirtualScheduler implements Scheduler {
  private time: number;
  private seq = 0;
  private readonly heap: VirtualEvent[] = [];
  /** Count of events run so far; part of a run's fingerprint. */
  eventsRun = 0;

  constructor(startTime = 0) {
    this.time = startTime;
  }

  now(): number {
    return this.time;
  }

  at(at: number, fn: () => void): TimerHandle {
    const event: VirtualEvent = {
      time: Math.max(at, this.time),
      seq: this.seq++,
      fn,
      cancel() {
        this.fn = null;
      },
    };
    this.push(event);
    return event;
  }

  defer(fn: () => void): void {
    this.at(this.time, fn);
  }

  /** Number of live (not cancelled) events waiting. */
  get pending(): number {
    let n = 0;
    for (const e of this.heap) if (e.fn !== null) n++;
    return n;
  }

  /**
   * Runs events until `done()` holds, the queue is empty, or a bound is hit.
   * Returns true if `done()` held. Bounds keep a broken test from spinning.
   */
  async runUntil(
    done: () => boolean,
    limits: { maxTime?: number; maxEvents?: number } = {},
  ): Promise<boolean> {
    const maxTime = limits.maxTime ?? this.time + 3_600_000;
    const maxEvents = this.eventsRun + (limits.maxEvents ?? 50_000_000);
    for (;;) {
      await settle();
      if (done()) return true;
      const next = this.peekTime();
      if (next === null || next > maxTime || this.eventsRun >= maxEvents) return done();
      this.time = next;
      this.runInstant();
    }
  }

  /** Advances the clock by `ms`, running everything due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await this.runUntil(() => false, { maxTime: end });
    this.time = Math.max(this.time, end);
    await settle();
  }

  /** Runs every event due at the current instant, including ones they add. */
  private runInstant(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.time > this.time) return;
      this.pop();
      const fn = top.fn;
      if (fn === null) continue;
      top.fn = null;
      this.eventsRun++;
      fn();
    }
  }

  private peekTime(): number | null {
    while (this.heap.length > 0 && this.heap[0]!.fn === null) this.pop();
    return this.heap.length > 0 ? this.heap[0]!.time : null;
  }

  private less(a: VirtualEvent, b: VirtualEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(e: VirtualEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): VirtualEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Lets nextTick callbacks, microtasks and I/O callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

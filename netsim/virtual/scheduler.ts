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
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return null;
      if (top.fn !== null) return top.time;
      this.pop();
    }
  }

  private less(a: VirtualEvent, b: VirtualEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  /** Sifts `e` up from the new last slot, moving parents down into the hole. */
  private push(e: VirtualEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p];
      if (parent === undefined || !this.less(e, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  /** Removes the earliest event; the last one sifts down from the root. */
  private pop(): VirtualEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (n > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let least = last;
        const left = l < n ? h[l] : undefined;
        if (left !== undefined && this.less(left, least)) {
          m = l;
          least = left;
        }
        const right = r < n ? h[r] : undefined;
        if (right !== undefined && this.less(right, least)) {
          m = r;
          least = right;
        }
        if (m === i) break;
        h[i] = least;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

/** Lets nextTick callbacks, microtasks and I/O callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

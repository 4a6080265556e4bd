/**
 * Time and timers for the I/O layers that drive sans-I/O cores.
 *
 * Protocol cores take `now` and return deadlines; the thin layers around them
 * ask a Scheduler for the time and for wake-ups. Production uses the real
 * event loop; netsim's virtual network supplies a fake one, so a whole session
 * runs deterministically on a simulated clock.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface TimerOptions {
  /**
   * Keep the process alive while the timer waits, like a plain setTimeout
   * (a reconnect timer is all a provider has while its rendezvous is down).
   * Default false: protocol timers never hold a process on their own.
   */
  keepAlive?: boolean;
}

export interface Scheduler {
  /** Milliseconds on a monotonic clock (fractional allowed). */
  now(): number;
  /** Calls `fn` once, at or after absolute time `at`. */
  at(at: number, fn: () => void, opts?: TimerOptions): TimerHandle;
  /**
   * Calls `fn` once, after the current batch of I/O callbacks has run but
   * before time advances. Used to coalesce work (e.g. one KCP flush for all
   * packets that arrived in one event-loop turn).
   */
  defer(fn: () => void): void;
}

class RealTimer implements TimerHandle {
  constructor(private readonly handle: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.handle);
  }
}

/** The Node.js event loop: performance.now(), setTimeout, setImmediate. */
export class RealScheduler implements Scheduler {
  now(): number {
    return performance.now();
  }

  at(at: number, fn: () => void, opts?: TimerOptions): TimerHandle {
    const delay = Math.max(0, at - performance.now());
    const handle = setTimeout(fn, delay);
    // Protocol timers must not keep a process alive on their own: the owning
    // socket or server decides the process's lifetime.
    if (opts?.keepAlive !== true) handle.unref();
    return new RealTimer(handle);
  }

  defer(fn: () => void): void {
    setImmediate(fn);
  }
}

export const realScheduler: Scheduler = new RealScheduler();

/** Calls `fn` `delayMs` from now (a relative-time convenience over `at`). */
export function after(scheduler: Scheduler, delayMs: number, fn: () => void, opts?: TimerOptions): TimerHandle {
  return scheduler.at(scheduler.now() + delayMs, fn, opts);
}

/**
 * Calls `fn` every `intervalMs` until cancelled (the first call one interval
 * from now). Re-armed after each call, so a slow `fn` never piles calls up.
 */
export function every(scheduler: Scheduler, intervalMs: number, fn: () => void, opts?: TimerOptions): TimerHandle {
  let current: TimerHandle | null = null;
  let cancelled = false;
  const arm = (): void => {
    current = after(
      scheduler,
      intervalMs,
      () => {
        if (cancelled) return;
        fn();
        if (!cancelled) arm();
      },
      opts,
    );
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      current?.cancel();
    },
  };
}

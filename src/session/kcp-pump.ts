import type { Scheduler, TimerHandle } from '../clock/scheduler.js';

/** What the pump drives: a KCP-like core with ikcp's flush/update/check. */
export interface PumpedCore {
  flush(now: number): void;
  update(now: number): void;
  check(now: number): number;
}

/**
 * Drives a sans-I/O KCP core from a Scheduler.
 *
 * Latency: `kick()` after send/input coalesces everything that happened in
 * one event-loop turn into a single flush, so ACKs and data leave at once
 * instead of waiting for a tick. Wake-ups: the only timer is the core's own
 * `check()` deadline, so a quiet connection sleeps until something is due.
 */
export class KcpPump {
  private timer: TimerHandle | null = null;
  private timerDue = Infinity;
  private flushQueued = false;
  /** The check() deadline passed: the next deferred run calls update(). */
  private timerFired = false;
  private stopped = false;

  constructor(
    private readonly core: PumpedCore,
    private readonly scheduler: Scheduler,
    /**
     * Runs once per turn: before the coalesced flush (so replies it writes,
     * such as window updates, leave in that same flush) and after a timer's
     * update. Delivers received data, checks liveness.
     */
    private readonly onTurn: (now: number) => void,
  ) {}

  /** Schedules one flush for the end of this event-loop turn. */
  kick(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    this.scheduler.defer(this.onDeferred);
  }

  /** Cancels the timer; the pump does nothing more. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private readonly onDeferred = (): void => {
    if (this.stopped) return;
    const now = this.scheduler.now();
    if (this.timerFired) {
      this.timerFired = false;
      this.core.update(now);
    }
    this.onTurn(now);
    if (this.stopped) return;
    this.core.flush(now);
    this.flushQueued = false;
    this.arm(now);
  };

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerDue = Infinity;
    if (this.stopped) return;
    // Not now: Node runs timers before polling I/O, so after any stall (GC,
    // a long flush, another process on the core) the ACKs that make a
    // retransmission unnecessary are still unread in the socket. Deferred,
    // the update runs after this turn's poll has fed them to the core.
    this.timerFired = true;
    this.kick();
  };

  private arm(now: number): void {
    const due = this.core.check(now);
    if (due <= now) {
      // More is due at once (a capped burst left window-allowed data):
      // flush again next turn, after pending I/O, rather than on a timer.
      this.kick();
      return;
    }
    // Nothing due ever (no KCP yet, nothing to acknowledge): no timer at all;
    // the next kick (a packet, a write) asks again.
    if (due === Infinity) return;
    // An earlier timer already covers this deadline: when it fires, update()
    // is cheap and the timer is re-armed from a fresh check().
    if (this.timer !== null && this.timerDue <= due) return;
    this.timer?.cancel();
    this.timerDue = due;
    this.timer = this.scheduler.at(due, this.onTimer);
  }
}

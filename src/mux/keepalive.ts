/**
 * Keepalive clock: asks for a PING when nothing was received for
 * `intervalMs`, and declares the peer dead when nothing was received for
 * `timeoutMs`. touch() only records a timestamp (it runs per received
 * chunk); the single timer re-checks and re-arms itself when it fires, so
 * there is no timer churn on the hot path. Timers come from a Scheduler (the
 * real one does not keep the process alive; netsim's is a fake clock).
 */
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';

export interface KeepaliveHooks {
  sendPing(): void;
  timedOut(silentMs: number): void;
}

export class Keepalive {
  private lastIn: number;
  private lastPing: number;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly hooks: KeepaliveHooks,
    private readonly scheduler: Scheduler = realScheduler,
  ) {
    this.lastIn = scheduler.now();
    this.lastPing = this.lastIn;
    this.arm();
  }

  /** A frame arrived. */
  touch(): void {
    this.lastIn = this.scheduler.now();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.timer.cancel();
    this.timer = null;
  }

  private arm(): void {
    if (this.stopped) return;
    let next = Number.POSITIVE_INFINITY;
    if (this.intervalMs > 0) next = Math.max(this.lastIn, this.lastPing) + this.intervalMs;
    if (this.timeoutMs > 0) next = Math.min(next, this.lastIn + this.timeoutMs);
    if (next === Number.POSITIVE_INFINITY) return;
    // At least 1 ms out, so a timer never fires in the instant that armed it.
    this.timer = this.scheduler.at(Math.max(next, this.scheduler.now() + 1), () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.scheduler.now();
    const silent = now - this.lastIn;
    if (this.timeoutMs > 0 && silent >= this.timeoutMs) {
      this.stopped = true;
      this.hooks.timedOut(Math.round(silent));
      return;
    }
    if (this.intervalMs > 0 && silent >= this.intervalMs && now - this.lastPing >= this.intervalMs) {
      this.lastPing = now;
      this.hooks.sendPing();
    }
    this.arm();
  }
}

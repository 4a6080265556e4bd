import { after, every, realScheduler, type Scheduler, type TimerHandle } from '../src/clock/scheduler.js';
import type { StreamSocket } from '../src/net/stream-transport.js';

export interface RelayLimits {
  /** A link with no bytes either way for this long is closed (peers send keepalives). */
  idleTimeoutMs: number;
  /** Bytes per second per direction; 0 = unlimited. */
  bytesPerSecond: number;
}

export interface RelayResult {
  bytesAtoB: number;
  bytesBtoA: number;
  reason: 'closed' | 'idle' | 'error';
}

/**
 * Splices two peers' TCP connections. The rendezvous forwards opaque bytes
 * (sealed records) and never parses them. Back-pressure is TCP's own: when
 * one side reads slowly, the other side's reads pause, so the server holds at
 * most a socket buffer per direction, whatever the peers do.
 *
 * Returns the link's counts, kept up to date while it runs (for live metrics).
 */
export function spliceRelay(
  a: StreamSocket,
  b: StreamSocket,
  limits: RelayLimits,
  done: (r: RelayResult) => void,
  scheduler: Scheduler = realScheduler,
  /** Sees every byte forwarded (for the rendezvous's --tap). */
  onForward?: (bytes: Buffer) => void,
): Readonly<RelayResult> {
  const result: RelayResult = { bytesAtoB: 0, bytesBtoA: 0, reason: 'closed' };
  let finished = false;
  let lastActivity = scheduler.now();
  const rateTimers = new Set<TimerHandle>();
  let idleTimer: TimerHandle | null = null;
  const finish = (reason: RelayResult['reason']) => {
    if (finished) return;
    finished = true;
    result.reason = reason;
    idleTimer?.cancel();
    for (const t of rateTimers) t.cancel();
    rateTimers.clear();
    a.destroy();
    b.destroy();
    done(result);
  };
  const forward = (from: StreamSocket, to: StreamSocket, count: (n: number) => void) => {
    let windowStart = scheduler.now();
    let windowBytes = 0;
    from.on('data', (chunk: Buffer) => {
      lastActivity = scheduler.now();
      count(chunk.length);
      onForward?.(chunk);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (limits.bytesPerSecond > 0) {
        windowBytes += chunk.length;
        const elapsed = scheduler.now() - windowStart;
        if (elapsed >= 1000) {
          windowStart = scheduler.now();
          windowBytes = chunk.length;
        } else if (windowBytes >= limits.bytesPerSecond) {
          // Over the rate: stop reading until this one-second window ends.
          from.pause();
          const t = after(scheduler, 1000 - elapsed, () => {
            rateTimers.delete(t);
            windowStart = scheduler.now();
            windowBytes = 0;
            if (to.writableNeedDrain) return; // 'drain' will resume it
            from.resume();
          });
          rateTimers.add(t);
        }
      }
    });
    // The link carries sealed records, not a byte stream with half-close: when
    // either side goes, the link is over.
    from.on('end', () => finish('closed'));
    from.on('error', () => finish('error'));
    from.on('close', () => finish('closed'));
  };
  forward(a, b, (n) => (result.bytesAtoB += n));
  forward(b, a, (n) => (result.bytesBtoA += n));
  // The control connections paused the sockets when they handed them over.
  a.resume();
  b.resume();
  if (finished) return result;
  idleTimer = every(scheduler, Math.min(limits.idleTimeoutMs, 10_000), () => {
    if (scheduler.now() - lastActivity >= limits.idleTimeoutMs) finish('idle');
  });
  return result;
}

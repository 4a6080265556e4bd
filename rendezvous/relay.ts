import type { Socket } from 'node:net';

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
 * (sealed packets) and never parses them. Back-pressure is TCP's own: when
 * one side reads slowly, the other side's reads pause, so the server holds at
 * most a socket buffer per direction, whatever the peers do.
 */
export function spliceRelay(a: Socket, b: Socket, limits: RelayLimits, done: (r: RelayResult) => void): void {
  const result: RelayResult = { bytesAtoB: 0, bytesBtoA: 0, reason: 'closed' };
  let finished = false;
  let lastActivity = performance.now();
  const finish = (reason: RelayResult['reason']) => {
    if (finished) return;
    finished = true;
    result.reason = reason;
    clearInterval(idleTimer);
    a.destroy();
    b.destroy();
    done(result);
  };
  const forward = (from: Socket, to: Socket, count: (n: number) => void) => {
    let windowStart = performance.now();
    let windowBytes = 0;
    from.on('data', (chunk: Buffer) => {
      lastActivity = performance.now();
      count(chunk.length);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (limits.bytesPerSecond > 0) {
        windowBytes += chunk.length;
        const elapsed = performance.now() - windowStart;
        if (elapsed >= 1000) {
          windowStart = performance.now();
          windowBytes = chunk.length;
        } else if (windowBytes >= limits.bytesPerSecond) {
          // Over the rate: stop reading until this one-second window ends.
          from.pause();
          setTimeout(() => {
            windowStart = performance.now();
            windowBytes = 0;
            if (to.writableNeedDrain) return; // 'drain' will resume it
            from.resume();
          }, 1000 - elapsed).unref();
        }
      }
    });
    // The link carries datagrams, not a byte stream with half-close: when
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
  const idleTimer = setInterval(() => {
    if (performance.now() - lastActivity >= limits.idleTimeoutMs) finish('idle');
  }, Math.min(limits.idleTimeoutMs, 10_000));
  idleTimer.unref();
}

import { classifySocketError, type SocketErrorClass } from '../../src/direct/index.js';
import type { Logger } from '../../src/log/logger.js';

/** Distinct error codes counted one by one; further codes share one bucket. */
const MAX_CODES = 16;

/**
 * Counts and logs the errors of a session's direct sockets. Every error is
 * counted; a code is logged the 1st, 10th, 100th... time it is seen, so a
 * firewall refusing every probe of a birthday run does not flood the log.
 * Fatal ones are always logged.
 */
export class SocketErrorLog {
  readonly counts = { total: 0, fatal: 0 };
  private readonly byCode = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  record(err: Error, where: { socket: 'session' | 'birthday' | 'path'; attempt: number }): SocketErrorClass {
    const e = classifySocketError(err);
    this.counts.total++;
    if (e.fatal) this.counts.fatal++;
    const key = this.byCode.has(e.code) || this.byCode.size < MAX_CODES ? e.code : 'OTHER';
    const count = (this.byCode.get(key) ?? 0) + 1;
    this.byCode.set(key, count);
    if (e.fatal || isPowerOfTen(count)) {
      this.log.warn('socket-error', { socket: where.socket, attempt: where.attempt, code: e.code, reason: e.reason, fatal: e.fatal, count });
    }
    return e;
  }
}

function isPowerOfTen(n: number): boolean {
  let k = n;
  while (k >= 10 && k % 10 === 0) k /= 10;
  return k === 1;
}

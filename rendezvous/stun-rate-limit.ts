/**
 * Per-source token buckets for the STUN responder, in a bounded map.
 *
 * Keyed by source IP, not IP and port: NAT discovery uses several sockets,
 * and a flood from one host should not get more answers by varying ports.
 * When the map is full the least recently seen source is forgotten (it then
 * starts again with a full bucket, which costs at most `burst` answers).
 */
export interface RateLimitOptions {
  /** Requests a source may send at once. */
  burst: number;
  /** Requests per second a source earns back. */
  perSecond: number;
  /** Sources remembered at most. */
  maxSources: number;
}

export const DEFAULT_STUN_RATE_LIMIT: RateLimitOptions = {
  // Debian's `stun` sends up to ~25 requests in one run, burrow's discovery
  // ~20; several hosts behind one NAT may run them at once.
  burst: 64,
  perSecond: 20,
  maxSources: 4096,
};

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly opts: RateLimitOptions = DEFAULT_STUN_RATE_LIMIT) {}

  /** Takes one token for `source` at time `now` (ms); false when it has none left. */
  allow(source: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.opts.maxSources) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.opts.burst, at: now };
    } else {
      this.buckets.delete(source);
      b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
      b.at = now;
    }
    // Re-inserted so the map's order is least recently seen first.
    this.buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

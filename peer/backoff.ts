/**
 * Capped exponential backoff with full jitter: after failure n, wait a random
 * time in [0, min(cap, base * 2^n)]. Jitter keeps a crowd of peers from
 * reconnecting in lockstep when a rendezvous comes back.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 500,
    private readonly capMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    // Never zero: an immediate retry storm helps nobody.
    return Math.max(this.baseMs / 4, this.random() * ceiling);
  }

  reset(): void {
    this.failures = 0;
  }
}

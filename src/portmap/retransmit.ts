/**
 * When to (re)send one NAT-PMP or PCP request, sans-I/O: first send at once,
 * then after rto, 2·rto, 4·rto … up to `maxSends` sends, and give up at the
 * deadline. The caller matches answers; this only keeps the clock.
 */
export interface RetransmitPolicy {
  rtoMs: number;
  maxSends: number;
  timeoutMs: number;
}

export class RetransmitSchedule {
  private sends = 0;
  private rto: number;
  private nextSendAt: number;
  private readonly deadline: number;

  constructor(
    private readonly policy: RetransmitPolicy,
    now: number,
  ) {
    this.rto = policy.rtoMs;
    this.nextSendAt = now;
    this.deadline = now + policy.timeoutMs;
  }

  /** Whether the request is to be sent now (and counts the send). */
  sendDue(now: number): boolean {
    if (this.expired(now) || this.sends >= this.policy.maxSends || now < this.nextSendAt) return false;
    this.sends++;
    this.nextSendAt = now + this.rto;
    this.rto *= 2;
    return true;
  }

  expired(now: number): boolean {
    return now >= this.deadline;
  }

  get sent(): number {
    return this.sends;
  }

  /** When to look again. */
  nextDeadline(): number {
    return this.sends >= this.policy.maxSends ? this.deadline : Math.min(this.nextSendAt, this.deadline);
  }
}

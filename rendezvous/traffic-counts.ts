import type { ControlErrorCode } from '../src/control/index.js';
import type { RelayResult } from './relay.js';

/** Why the rendezvous refused something: a control error code it sent, or a connection over the unauthenticated limit. */
export type RefusalReason = ControlErrorCode | 'TOO_MANY_UNAUTHENTICATED';

/**
 * Counts the rendezvous keeps for its metrics that no other part keeps:
 * refusals by reason, and relay bytes by direction with the links still
 * running included (a link's own counts are final only when it ends).
 */
export class TrafficCounts {
  private readonly refusalCounts: Partial<Record<RefusalReason, number>> = {};
  private readonly endedBytes = { toProvider: 0, toVisitor: 0 };
  /** Counts of the links running now; the visitor's side is A. */
  private readonly live = new Set<Readonly<RelayResult>>();
  /** Links that ended before relayStarted heard of them (a side closed while being spliced). */
  private readonly endedEarly = new WeakSet<Readonly<RelayResult>>();

  refused(reason: RefusalReason): void {
    this.refusalCounts[reason] = (this.refusalCounts[reason] ?? 0) + 1;
  }

  get refusals(): Partial<Record<RefusalReason, number>> {
    return { ...this.refusalCounts };
  }

  relayStarted(link: Readonly<RelayResult>): void {
    if (!this.endedEarly.has(link)) this.live.add(link);
  }

  relayEnded(link: Readonly<RelayResult>): void {
    if (!this.live.delete(link)) this.endedEarly.add(link);
    this.endedBytes.toProvider += link.bytesAtoB;
    this.endedBytes.toVisitor += link.bytesBtoA;
  }

  get relayBytes(): { toProvider: number; toVisitor: number } {
    let { toProvider, toVisitor } = this.endedBytes;
    for (const r of this.live) {
      toProvider += r.bytesAtoB;
      toVisitor += r.bytesBtoA;
    }
    return { toProvider, toVisitor };
  }
}

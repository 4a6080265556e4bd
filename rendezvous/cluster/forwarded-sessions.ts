import type { ServiceLocation } from './lookup-cache.js';
import { nodeKey } from './remote-peers.js';

/** Sessions a visitor of this node keeps on another node, at most this many per visitor (the oldest goes first). */
export const MAX_FORWARDED_PER_VISITOR = 64;

/**
 * On a visitor's node: the sessions its visitors set up with providers on
 * other nodes, where those sessions' setup and punch broker run. The
 * visitor's later messages for a session (confirm, punch offers) go to the
 * node recorded here, and only that node's answers for it are passed to
 * the visitor. Bounded per visitor; a visitor's entries go with its
 * connection.
 *
 * A forwarded connect waits for the node's first answer until a deadline
 * (expire()): pub/sub delivers at most once, and a frozen node takes
 * messages without answering, so without it the visitor would wait forever.
 */
export class ForwardedSessions {
  private readonly byVisitor = new Map<string, Map<string, ServiceLocation>>();
  /** Connects sent and not answered yet, in deadline order (one timeout for all). */
  private readonly awaiting = new Map<string, { readonly visitor: string; readonly connId: string; readonly deadline: number }>();

  constructor(private readonly maxPerVisitor = MAX_FORWARDED_PER_VISITOR) {}

  /** Records a session whose connect is on its way; false if the visitor already has one with this id. */
  add(visitor: string, connId: string, at: ServiceLocation, answerBy: number): boolean {
    let sessions = this.byVisitor.get(visitor);
    if (sessions === undefined) {
      sessions = new Map();
      this.byVisitor.set(visitor, sessions);
    }
    if (sessions.has(connId)) return false;
    if (sessions.size >= this.maxPerVisitor) {
      const oldest = sessions.keys().next();
      if (oldest.done !== true) this.remove(visitor, oldest.value);
      this.byVisitor.set(visitor, sessions);
    }
    sessions.set(connId, at);
    this.awaiting.set(awaitKey(visitor, connId), { visitor, connId, deadline: answerBy });
    return true;
  }

  /** The node answered the connect: no deadline any more. */
  answered(visitor: string, connId: string): void {
    this.awaiting.delete(awaitKey(visitor, connId));
  }

  /** Forgets and returns the connects whose node did not answer by `now`. */
  expire(now: number): { visitor: string; connId: string }[] {
    const out: { visitor: string; connId: string }[] = [];
    for (const a of this.awaiting.values()) {
      if (a.deadline > now) break;
      out.push({ visitor: a.visitor, connId: a.connId });
    }
    for (const a of out) this.remove(a.visitor, a.connId);
    return out;
  }

  /** When expire() next has work, or null. */
  nextDeadline(): number | null {
    const first = this.awaiting.values().next();
    return first.done === true ? null : first.value.deadline;
  }

  get(visitor: string, connId: string): ServiceLocation | undefined {
    return this.byVisitor.get(visitor)?.get(connId);
  }

  remove(visitor: string, connId: string): void {
    const sessions = this.byVisitor.get(visitor);
    this.awaiting.delete(awaitKey(visitor, connId));
    if (sessions === undefined) return;
    sessions.delete(connId);
    if (sessions.size === 0) this.byVisitor.delete(visitor);
  }

  /** The visitor's connection closed: forgets its sessions and returns the node incarnations that held them, once each. */
  dropVisitor(visitor: string): ServiceLocation[] {
    const sessions = this.byVisitor.get(visitor);
    this.byVisitor.delete(visitor);
    if (sessions === undefined) return [];
    for (const connId of sessions.keys()) this.awaiting.delete(awaitKey(visitor, connId));
    const nodes = new Map<string, ServiceLocation>();
    for (const at of sessions.values()) nodes.set(nodeKey(at), at);
    return [...nodes.values()];
  }

  /** Visitors with at least one forwarded session. */
  get visitors(): number {
    return this.byVisitor.size;
  }
}

function awaitKey(visitor: string, connId: string): string {
  return `${visitor} ${connId}`;
}

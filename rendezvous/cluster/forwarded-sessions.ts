import type { ServiceLocation } from './lookup-cache.js';

/** Sessions a visitor of this node keeps on another node, at most this many per visitor (the oldest goes first). */
export const MAX_FORWARDED_PER_VISITOR = 64;

/**
 * On a visitor's node: the sessions its visitors set up with providers on
 * other nodes, where those sessions' setup and punch broker run. The
 * visitor's later messages for a session (confirm, punch offers) go to the
 * node recorded here, and only that node's answers for it are passed to
 * the visitor. Bounded per visitor; a visitor's entries go with its
 * connection.
 */
export class ForwardedSessions {
  private readonly byVisitor = new Map<string, Map<string, ServiceLocation>>();

  constructor(private readonly maxPerVisitor = MAX_FORWARDED_PER_VISITOR) {}

  /** Records a session; false if the visitor already has one with this id. */
  add(visitor: string, connId: string, at: ServiceLocation): boolean {
    let sessions = this.byVisitor.get(visitor);
    if (sessions === undefined) {
      sessions = new Map();
      this.byVisitor.set(visitor, sessions);
    }
    if (sessions.has(connId)) return false;
    if (sessions.size >= this.maxPerVisitor) {
      const oldest = sessions.keys().next();
      if (oldest.done !== true) sessions.delete(oldest.value);
    }
    sessions.set(connId, at);
    return true;
  }

  get(visitor: string, connId: string): ServiceLocation | undefined {
    return this.byVisitor.get(visitor)?.get(connId);
  }

  remove(visitor: string, connId: string): void {
    const sessions = this.byVisitor.get(visitor);
    if (sessions === undefined) return;
    sessions.delete(connId);
    if (sessions.size === 0) this.byVisitor.delete(visitor);
  }

  /** The visitor's connection closed: forgets its sessions and returns the node incarnations that held them, once each. */
  dropVisitor(visitor: string): ServiceLocation[] {
    const sessions = this.byVisitor.get(visitor);
    this.byVisitor.delete(visitor);
    if (sessions === undefined) return [];
    const nodes = new Map<string, ServiceLocation>();
    for (const at of sessions.values()) nodes.set(`${at.node}/${at.incarnation}`, at);
    return [...nodes.values()];
  }

  /** Visitors with at least one forwarded session. */
  get visitors(): number {
    return this.byVisitor.size;
  }
}

import type { ClusterTimers } from './timers.js';

/** Where a service lives: the node (with the incarnation the bus addresses) and its advertised address. */
export interface ServiceLocation {
  readonly node: string;
  readonly incarnation: string;
  readonly advertise: string;
}

/**
 * Positive lookups, kept lookupCacheMs, at most `maxEntries` (the oldest
 * goes first). Misses are not cached: a provider that just registered is
 * found at once.
 */
export class LookupCache {
  private readonly entries = new Map<string, { readonly loc: ServiceLocation; readonly until: number }>();

  constructor(
    private readonly timers: Pick<ClusterTimers, 'lookupCacheMs'>,
    private readonly maxEntries = 4096,
  ) {}

  get(name: string, now: number): ServiceLocation | null {
    const e = this.entries.get(name);
    if (e === undefined) return null;
    if (now >= e.until) {
      this.entries.delete(name);
      return null;
    }
    return e.loc;
  }

  put(name: string, loc: ServiceLocation, now: number): void {
    this.entries.delete(name);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(name, { loc, until: now + this.timers.lookupCacheMs });
  }

  /** Drop a name (a message to its node found nobody there), or every name of a node. */
  forget(name: string): void {
    this.entries.delete(name);
  }

  forgetNode(node: string): void {
    for (const [name, e] of this.entries) if (e.loc.node === node) this.entries.delete(name);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Which provider serves which service name. One provider per name. */
export class ServiceRegistry<P> {
  private readonly byName = new Map<string, P>();

  constructor(private readonly maxServices = 10_000) {}

  /** Registers every name or none; returns the names already taken by someone else. */
  register(provider: P, names: readonly string[]): { ok: true } | { ok: false; taken: string[]; full?: boolean } {
    const taken = names.filter((n) => {
      const owner = this.byName.get(n);
      return owner !== undefined && owner !== provider;
    });
    if (taken.length > 0) return { ok: false, taken };
    const fresh = [...new Set(names)].filter((n) => !this.byName.has(n));
    if (this.byName.size + fresh.length > this.maxServices) return { ok: false, taken: [], full: true };
    for (const n of names) this.byName.set(n, provider);
    return { ok: true };
  }

  lookup(name: string): P | undefined {
    return this.byName.get(name);
  }

  /** Drops one name; returns who held it. */
  remove(name: string): P | undefined {
    const owner = this.byName.get(name);
    this.byName.delete(name);
    return owner;
  }

  /** Drops every name this provider holds. */
  removeProvider(provider: P): string[] {
    const removed: string[] = [];
    for (const [name, owner] of this.byName) {
      if (owner === provider) {
        this.byName.delete(name);
        removed.push(name);
      }
    }
    return removed;
  }

  /** Every name and its provider. */
  entries(): [string, P][] {
    return [...this.byName];
  }

  get size(): number {
    return this.byName.size;
  }
}

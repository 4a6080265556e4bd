import type { ClusterTimers } from './timers.js';

/** Redis's answer for one name (CLAIM in scripts.ts), or why there was none. */
export type ClaimAnswer =
  | { readonly kind: 'ok' }
  /** It was held by a node whose lease lapsed: now ours. */
  | { readonly kind: 'took-over' }
  /** A live node holds it. */
  | { readonly kind: 'taken'; readonly owner: string }
  /** This node holds no live lease right now: nothing was written. */
  | { readonly kind: 'no-lease' }
  /** Redis did not answer. */
  | { readonly kind: 'error' };

export type ClaimOutput =
  /** Run CLAIM for these names; report with claimed(). */
  | { readonly kind: 'claim'; readonly names: readonly string[] }
  /** Run RELEASE for this name (no answer needed). */
  | { readonly kind: 'release'; readonly name: string }
  /** A name this node held now belongs to another node: tell its provider. */
  | { readonly kind: 'lost'; readonly name: string; readonly owner: string };

/** Names per CLAIM call, so one script never blocks Redis for long. */
export const CLAIM_BATCH = 200;

/** Parses one answer of CLAIM. */
export function parseClaimAnswer(raw: unknown): ClaimAnswer {
  if (raw === 'ok') return { kind: 'ok' };
  if (raw === 'took-over') return { kind: 'took-over' };
  if (raw === 'no-lease') return { kind: 'no-lease' };
  if (typeof raw === 'string' && raw.startsWith('taken ') && raw.length <= 80) return { kind: 'taken', owner: raw.slice(6) };
  return { kind: 'error' };
}

/**
 * The names this node claims in the cluster, sans-I/O. `wanted` are the
 * names its providers registered and have not released; `held` those Redis
 * confirmed. Every wanted name is claimed again every claimRefreshMs and at
 * once after the lease is (re)acquired: that is how names come back after a
 * Redis restart, and how a name another node took is noticed.
 */
export class ClaimBook {
  private readonly wanted = new Set<string>();
  private readonly held = new Set<string>();
  private nextRefreshAt: number | null = null;
  private outputs: ClaimOutput[] = [];

  constructor(
    private readonly timers: Pick<ClusterTimers, 'claimRefreshMs'>,
    private readonly maxClaims: number,
  ) {}

  takeOutputs(): ClaimOutput[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  nextDeadline(): number | null {
    return this.wanted.size === 0 ? null : this.nextRefreshAt;
  }

  /** Adds names to claim; false (and nothing added) if that would pass maxClaims. */
  want(names: readonly string[], now: number): boolean {
    const fresh = new Set(names.filter((n) => !this.wanted.has(n)));
    if (this.wanted.size + fresh.size > this.maxClaims) return false;
    for (const n of fresh) this.wanted.add(n);
    this.nextRefreshAt ??= now + this.timers.claimRefreshMs;
    return true;
  }

  /**
   * Redis's answers to one CLAIM of `names` (same order). `request`: the
   * claim a provider's registration asked for (its caller sees the answers);
   * `refresh`: one of this book's own re-claims, whose losses only events tell.
   */
  claimed(names: readonly string[], answers: readonly ClaimAnswer[], source: 'request' | 'refresh'): void {
    names.forEach((name, i) => {
      const a = answers[i] ?? { kind: 'error' };
      switch (a.kind) {
        case 'ok':
        case 'took-over':
          // Released while the claim was on its way: give it back.
          if (!this.wanted.has(name)) this.outputs.push({ kind: 'release', name });
          else this.held.add(name);
          return;
        case 'taken': {
          // Held, or still wanted after a first claim that Redis could not confirm (no lease yet): either way a provider to tell.
          const wasHeld = this.held.delete(name);
          const wasWanted = this.wanted.delete(name);
          if (wasHeld || (source === 'refresh' && wasWanted)) this.outputs.push({ kind: 'lost', name, owner: a.owner });
          return;
        }
        case 'no-lease':
        case 'error':
          // Still wanted: the next refresh, or the lease coming back, claims it again.
          return;
      }
    });
  }

  /** The provider went: forget the name and delete its claim. */
  release(name: string): void {
    if (!this.wanted.delete(name)) return;
    this.held.delete(name);
    this.outputs.push({ kind: 'release', name });
  }

  /** The lease was (re)acquired: claim everything again now. */
  reclaimAll(now: number): void {
    this.nextRefreshAt = now;
  }

  handleTimeout(now: number): void {
    if (this.nextRefreshAt === null || now < this.nextRefreshAt) return;
    this.nextRefreshAt = now + this.timers.claimRefreshMs;
    const names = [...this.wanted];
    for (let i = 0; i < names.length; i += CLAIM_BATCH) this.outputs.push({ kind: 'claim', names: names.slice(i, i + CLAIM_BATCH) });
  }

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  get stats(): { wanted: number; held: number } {
    return { wanted: this.wanted.size, held: this.held.size };
  }
}

/**
 * Happy Eyeballs (RFC 8305 section 5), sans-I/O: which address to try when,
 * and which connection wins. The shell (dial-stream.ts) opens the sockets and
 * runs the timer; this core only takes events and a clock and returns actions.
 *
 * Unlike node:net's autoSelectFamily, which aborts each attempt after its
 * delay and moves on (nodejs/node#54359: a slow but working route then never
 * connects), earlier attempts keep running: the next address only *starts*
 * after the delay, and the first to connect wins.
 */
import { isIP } from 'node:net';

/** Timer policy, in one place. */
export const HAPPY_EYEBALLS_TIMERS = {
  /** RFC 8305's recommended Connection Attempt Delay: start the next address this long after the last one started. */
  attemptDelayMs: 250,
} as const;

/** Addresses tried at most (a name with dozens of records must not open dozens of sockets); both families stay in, being interleaved first. */
export const MAX_RACE_ADDRESSES = 8;

export type RaceAction =
  | { kind: 'attempt'; index: number; address: string }
  /** `index` connected: keep it, destroy every attempt in `losers`. */
  | { kind: 'won'; index: number; losers: number[] }
  /** Every address failed. */
  | { kind: 'failed' };

/**
 * Orders resolved addresses the RFC 8305 way: IPv6 first, then alternating
 * families (so one dead family costs one attempt delay, not one per address),
 * duplicates dropped, each family keeping the resolver's order.
 */
export function interleaveFamilies(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  const v6: string[] = [];
  const v4: string[] = [];
  for (const a of addresses) {
    if (seen.has(a)) continue;
    seen.add(a);
    const family = isIP(a);
    if (family === 6) v6.push(a);
    else if (family === 4) v4.push(a);
  }
  const out: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    const a6 = v6[i];
    const a4 = v4[i];
    if (a6 !== undefined) out.push(a6);
    if (a4 !== undefined) out.push(a4);
  }
  return out.slice(0, MAX_RACE_ADDRESSES);
}

type AttemptState = 'idle' | 'connecting' | 'failed' | 'won' | 'dropped';

export class HappyEyeballsRace {
  private readonly states: AttemptState[];
  private next = 0;
  private nextStartAt: number | null = null;
  private done = false;

  /** `addresses` in the order to try (see interleaveFamilies); must not be empty. */
  constructor(
    private readonly addresses: readonly string[],
    private readonly attemptDelayMs: number = HAPPY_EYEBALLS_TIMERS.attemptDelayMs,
  ) {
    if (addresses.length === 0) throw new RangeError('HappyEyeballsRace needs at least one address');
    this.states = addresses.map(() => 'idle');
  }

  start(now: number): RaceAction[] {
    if (this.next !== 0 || this.done) return [];
    return this.startNext(now);
  }

  /** When the shell should call timeout(); null = no timer needed. */
  deadline(): number | null {
    return this.done ? null : this.nextStartAt;
  }

  /** The attempt delay ran out: start the next address. */
  timeout(now: number): RaceAction[] {
    if (this.done || this.nextStartAt === null || now < this.nextStartAt) return [];
    return this.startNext(now);
  }

  connected(index: number): RaceAction[] {
    if (this.done || this.states[index] !== 'connecting') return [];
    this.done = true;
    this.nextStartAt = null;
    const losers: number[] = [];
    this.states.forEach((s, i) => {
      if (s === 'connecting') losers.push(i);
    });
    const kept = losers.filter((i) => i !== index);
    for (const i of kept) this.states[i] = 'dropped';
    this.states[index] = 'won';
    return [{ kind: 'won', index, losers: kept }];
  }

  /** An attempt failed: the next address starts at once (no need to wait out the delay). */
  failed(index: number, now: number): RaceAction[] {
    if (this.done || this.states[index] !== 'connecting') return [];
    this.states[index] = 'failed';
    if (this.next < this.addresses.length) return this.startNext(now);
    if (this.states.some((s) => s === 'connecting')) return [];
    this.done = true;
    return [{ kind: 'failed' }];
  }

  private startNext(now: number): RaceAction[] {
    const index = this.next++;
    const address = this.addresses[index];
    if (address === undefined) return [];
    this.states[index] = 'connecting';
    this.nextStartAt = this.next < this.addresses.length ? now + this.attemptDelayMs : null;
    return [{ kind: 'attempt', index, address }];
  }
}

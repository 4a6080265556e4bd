/**
 * A tiny deterministic network and driver for KCP tests: two connections, a
 * fake clock, and a link that delays, drops, duplicates and reorders
 * datagrams with a seeded PRNG.
 */
import { at } from '../../src/util/at.js';
import { KcpConnection, type KcpOptions } from '../../src/kcp/index.js';

/** mulberry32: small, fast, good enough to pick losses. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (this.next() * 256) | 0;
    return b;
  }
}

export interface LinkOptions {
  /** One-way delay in ms. */
  latency?: number;
  /** Extra random delay in [0, jitter) ms; reorders datagrams. */
  jitter?: number;
  /** Probability a datagram is dropped. */
  loss?: number;
  /** Probability a datagram is delivered twice. */
  dup?: number;
  seed?: number;
}

export type Side = 0 | 1;

interface InFlight {
  at: number;
  order: number;
  to: Side;
  data: Buffer;
}

export class SimLink {
  private queue: InFlight[] = [];
  private order = 0;
  private readonly rng: Prng;
  readonly latency: number;
  readonly jitter: number;
  readonly loss: number;
  readonly dup: number;
  /** Test hook: return false to drop a datagram (after the random loss). */
  filter: ((from: Side, data: Buffer) => boolean) | null = null;
  delivered = 0;
  dropped = 0;

  constructor(o: LinkOptions = {}) {
    this.latency = o.latency ?? 20;
    this.jitter = o.jitter ?? 0;
    this.loss = o.loss ?? 0;
    this.dup = o.dup ?? 0;
    this.rng = new Prng(o.seed ?? 1);
  }

  send(from: Side, datagram: Uint8Array, now: number): void {
    // output() views are only valid during the call.
    const data = Buffer.from(datagram);
    if (this.rng.next() < this.loss || (this.filter !== null && !this.filter(from, data))) {
      this.dropped++;
      return;
    }
    const copies = this.rng.next() < this.dup ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const at = now + this.latency + (this.jitter > 0 ? this.rng.next() * this.jitter : 0);
      // Each delivery gets its own buffer: input() keeps views of it.
      this.insert({ at, order: this.order++, to: from === 0 ? 1 : 0, data: c === 0 ? data : Buffer.from(data) });
    }
  }

  private insert(p: InFlight): void {
    const q = this.queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at(q, mid).at <= p.at) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, p);
  }

  nextDelivery(): number {
    return this.queue.length > 0 ? at(this.queue, 0).at : Infinity;
  }

  takeDue(now: number): InFlight[] {
    let n = 0;
    while (n < this.queue.length && at(this.queue, n).at <= now) n++;
    const due = this.queue.splice(0, n);
    this.delivered += due.length;
    return due;
  }

  get pending(): number {
    return this.queue.length;
  }
}

export interface Pair {
  a: KcpConnection;
  b: KcpConnection;
  link: SimLink;
  now: number;
  readonly start: number;
}

export function makePair(
  opts: Omit<KcpOptions, 'output' | 'conv'> & { conv?: number },
  link: LinkOptions = {},
  start = 1_000_000,
  optsB: Partial<Omit<KcpOptions, 'output'>> = {},
): Pair {
  const l = new SimLink(link);
  const pair: Pair = { a: undefined as unknown as KcpConnection, b: undefined as unknown as KcpConnection, link: l, now: start, start };
  const conv = opts.conv ?? 0x11223344;
  pair.a = new KcpConnection({ ...opts, conv, output: (d) => l.send(0, d, pair.now) });
  pair.b = new KcpConnection({ ...opts, ...optsB, conv, output: (d) => l.send(1, d, pair.now) });
  return pair;
}

export interface RunOptions {
  /** Application step, run before every driver flush: send more, read, etc. */
  step: (now: number) => void;
  done: () => boolean;
  /** Give up (throw) after this much fake time. */
  maxTime: number;
  /** When the application wants to run next even if nothing happens (fake-clock timer). */
  wakeAt?: () => number;
}

/**
 * Drives both connections the way the session layer will: app calls, then
 * flush; deliver due datagrams (input, then flush); sleep until the earliest
 * of the next delivery and both check() deadlines, then update.
 */
export function run(p: Pair, r: RunOptions): void {
  const conns = [p.a, p.b];
  let spins = 0;
  let lastNow = p.now;
  for (;;) {
    r.step(p.now);
    p.a.flush(p.now);
    p.b.flush(p.now);
    if (r.done()) return;
    const due = p.link.takeDue(p.now);
    if (due.length > 0) {
      for (const d of due) at(conns, d.to).input(d.data, p.now);
      continue;
    }
    let next = p.link.nextDelivery();
    if (r.wakeAt) next = Math.min(next, r.wakeAt());
    for (const c of conns) next = Math.min(next, c.check(p.now));
    if (next > p.now) p.now = next;
    if (p.now - p.start > r.maxTime) throw new Error(`simulation exceeded ${r.maxTime} ms of fake time`);
    for (const c of conns) if (c.check(p.now) <= p.now) c.update(p.now);
    if (p.now === lastNow) {
      if (++spins > 100_000) throw new Error('simulation live-locked: time does not advance');
    } else {
      spins = 0;
      lastNow = p.now;
    }
  }
}

/** Streams `data` from a to b (stream mode), returning what b read. */
export function streamTransfer(p: Pair, data: Buffer, maxTime = 3_600_000, chunk = 16 * 1024): Buffer {
  let off = 0;
  const got: Buffer[] = [];
  let gotBytes = 0;
  run(p, {
    maxTime,
    step: () => {
      while (off < data.length && p.a.waitSnd() < 256) {
        const n = Math.min(chunk, data.length - off);
        p.a.send(data.subarray(off, off + n));
        off += n;
      }
      for (let m = p.b.recv(); m !== null; m = p.b.recv()) {
        got.push(m);
        gotBytes += m.length;
      }
    },
    done: () => gotBytes >= data.length,
  });
  return Buffer.concat(got);
}

/** Sends `messages` from a to b (message mode), returning what b read. */
export function messageTransfer(p: Pair, messages: Buffer[], maxTime = 3_600_000): Buffer[] {
  let next = 0;
  const got: Buffer[] = [];
  run(p, {
    maxTime,
    step: () => {
      while (next < messages.length && p.a.waitSnd() < 256) p.a.send(at(messages, next++));
      for (let m = p.b.recv(); m !== null; m = p.b.recv()) got.push(m);
    },
    done: () => got.length >= messages.length,
  });
  return got;
}

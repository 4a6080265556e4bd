/**
 * Test plumbing: an in-memory "reliable byte stream" between two
 * MuxSessions. Delivery is asynchronous (setImmediate), optionally re-split
 * at random points, optionally with a bounded capacity that returns false
 * and calls notifyDrain() once the queued bytes were delivered.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MuxSession, type MuxOptions, type MuxStream, type MuxTransport } from '../../src/mux/index.js';

/** Small seeded PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rng: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(Math.floor(rng() * 4294967296), i);
  for (; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface LinkOptions {
  /** Bytes queued before write() returns false; 0 = unbounded. */
  capacity?: number;
  /** Re-split delivered bytes at random points with this PRNG. */
  rng?: () => number;
}

export class MemoryTransport implements MuxTransport {
  /** Where bytes go; set after both sessions exist. */
  peer: MuxSession | null = null;
  /** The session writing into this transport (notified on drain). */
  owner: MuxSession | null = null;
  /** When true, everything written is silently dropped (a dead peer). */
  blackhole = false;
  /** Largest number of bytes ever queued at once (back-pressure checks). */
  maxQueued = 0;
  writes = 0;
  /** Every chunk written, when recording (protocol tests). */
  recorded: Uint8Array[] | null = null;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private scheduled = false;
  private owesDrain = false;
  private readonly capacity: number;
  private readonly rng: (() => number) | null;

  constructor(opts: LinkOptions = {}) {
    this.capacity = opts.capacity ?? 0;
    this.rng = opts.rng ?? null;
  }

  write(bytes: Uint8Array): boolean {
    this.writes++;
    this.recorded?.push(bytes);
    if (this.blackhole) return true;
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    if (this.queued > this.maxQueued) this.maxQueued = this.queued;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
    if (this.capacity > 0 && this.queued >= this.capacity) {
      this.owesDrain = true;
      return false;
    }
    return true;
  }

  private deliver(): void {
    this.scheduled = false;
    const chunks = this.queue;
    this.queue = [];
    this.queued = 0;
    const peer = this.peer;
    if (peer !== null && chunks.length > 0) {
      if (this.rng === null) {
        for (const c of chunks) peer.receive(c);
      } else {
        const all = Buffer.concat(chunks);
        let pos = 0;
        while (pos < all.length) {
          // Mostly small pieces (split headers), sometimes big ones.
          const r = this.rng();
          const n = r < 0.5 ? 1 + Math.floor(this.rng() * 13) : 1 + Math.floor(this.rng() * 40_000);
          peer.receive(all.subarray(pos, pos + n));
          pos += n;
        }
      }
    }
    if (this.owesDrain) {
      this.owesDrain = false;
      this.owner?.notifyDrain();
    }
  }
}

export interface Pair {
  a: MuxSession;
  b: MuxSession;
  ab: MemoryTransport;
  ba: MemoryTransport;
  close(): void;
}

/** Quiet defaults for tests: no keepalive timers unless a test asks. */
const QUIET = { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 } as const;

export function pair(
  opts: { a?: Partial<MuxOptions>; b?: Partial<MuxOptions>; link?: LinkOptions } = {},
): Pair {
  const ab = new MemoryTransport(opts.link);
  const ba = new MemoryTransport(opts.link);
  const a = new MuxSession(ab, { ...QUIET, ...opts.a, role: 'initiator' });
  const b = new MuxSession(ba, { ...QUIET, ...opts.b, role: 'responder' });
  ab.owner = a;
  ab.peer = b;
  ba.owner = b;
  ba.peer = a;
  return {
    a,
    b,
    ab,
    ba,
    close() {
      a.close();
      b.close();
    },
  };
}

/** Swallows a stream's errors (for streams a test leaves open when it closes the session). */
export function quiet<T extends MuxStream>(s: T): T {
  s.on('error', () => {});
  return s;
}

export function readAll(s: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

export function nextStream(session: MuxSession): Promise<MuxStream> {
  return new Promise((resolve) => session.once('stream', resolve));
}

export function errorOf(s: MuxStream): Promise<Error> {
  return new Promise((resolve) => s.once('error', resolve));
}

/**
 * The mux's timers are unref'd (they must not keep a process alive), so a
 * test awaiting only them would see node's loop drain. Hold it meanwhile.
 */
export async function holdingLoop<T>(p: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(hold);
  }
}

export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `cond` holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

/** Writes `data` in `chunk`-sized pieces honouring write()'s back-pressure, then ends. */
export async function writeAll(s: MuxStream, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!s.write(data.subarray(off, off + chunk))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          s.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          s.off('drain', onDrain);
          reject(err);
        };
        s.once('drain', onDrain);
        s.once('error', onError);
      });
    }
  }
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.end(() => resolve());
  });
}

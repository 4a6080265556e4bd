/**
 * Mux micro-benchmark: two MuxSessions joined by an in-memory transport, one
 * stream pushing N MB (default 512) through the full path (Writable ->
 * framing -> transport -> decoder -> window accounting -> Readable).
 * The transport is bounded (write() returns false past 1 MiB queued) and
 * delivers asynchronously, so back-pressure and window grants are exercised.
 * Prints one line with MB/s.
 *
 *   node --import tsx bench/mux-micro.ts [megabytes] [initialWindowKiB]
 */
import { at } from '../src/util/at.js';
import { performance } from 'node:perf_hooks';
import { MuxSession, type MuxStream, type MuxTransport } from '../src/mux/index.js';

const totalMB = Number(process.argv[2] ?? 512);
const windowKiB = Number(process.argv[3] ?? 256);
const TOTAL = totalMB * 1024 * 1024;
const CHUNK = 64 * 1024;
const CAPACITY = 1024 * 1024;

class Wire implements MuxTransport {
  peer!: MuxSession;
  owner!: MuxSession;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private scheduled = false;
  private owesDrain = false;

  write(bytes: Uint8Array): boolean {
    // The mux hands over a buffer it never touches again: no copy needed.
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
    if (this.queued >= CAPACITY) {
      this.owesDrain = true;
      return false;
    }
    return true;
  }

  private deliver(): void {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    this.queued = 0;
    for (const c of q) this.peer.receive(c);
    if (this.owesDrain) {
      this.owesDrain = false;
      this.owner.notifyDrain();
    }
  }
}

const opts = { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0, initialWindow: windowKiB * 1024 };
const ab = new Wire();
const ba = new Wire();
const a = new MuxSession(ab, { ...opts, role: 'initiator' });
const b = new MuxSession(ba, { ...opts, role: 'responder' });
ab.owner = a;
ab.peer = b;
ba.owner = b;
ba.peer = a;

const chunk = Buffer.alloc(CHUNK);
for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 31 + 7) & 0xff;

const t0 = performance.now();
let received = 0;
let checksum = 0;

b.on('stream', (t: MuxStream) => {
  t.on('data', (c: Buffer) => {
    received += c.length;
    checksum = (checksum + at(c, 0) + at(c, c.length - 1)) >>> 0; // touch the data
  });
  t.on('end', () => {
    const ms = performance.now() - t0;
    const mbps = received / (1024 * 1024) / (ms / 1000);
    console.log(
      `mux-micro: ${totalMB} MB over one stream in ${ms.toFixed(0)} ms = ${mbps.toFixed(0)} MB/s ` +
        `(window ${windowKiB} KiB, frame ${16} KiB, frames out ${a.stats.framesOut}, grants ${b.stats.framesOut}, checksum ${checksum})`,
    );
    if (received !== TOTAL) {
      console.error(`received ${received} bytes, expected ${TOTAL}`);
      process.exitCode = 1;
    }
    t.end();
    a.close();
    b.close();
  });
});

const s = a.openStream();
let sent = 0;
function pump(): void {
  while (sent < TOTAL) {
    sent += CHUNK;
    if (!s.write(chunk)) {
      s.once('drain', pump);
      return;
    }
  }
  s.end();
}
pump();

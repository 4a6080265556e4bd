/**
 * The scenarios' traffic: a duplex, byte-exact TCP transfer that reports its
 * progress while it runs, so a scenario can break something *mid*-transfer.
 * One small program the runner starts inside lab namespaces
 * (compiled: dist/netsim/kernel/scenarios/stream.js).
 *
 *   stream target <ip> <port>
 *     For each connection: reads a header line {"down":N,"up":M,"seed":S},
 *     sends N bytes generated from S+":down", hashes the M bytes it receives,
 *     and once both are done sends the 32-byte SHA-256 of what it received and
 *     ends. Prints {"ready":true} once listening.
 *
 *   stream client <ip> <port> <down> <up> <seed> <timeoutMs>
 *     Connects, sends the header and M bytes from S+":up", reads N + 32 bytes,
 *     checks the data against S+":down" and the trailer against what it sent.
 *     Prints {"progress":{…}} every 100 ms and one {"report":{…}} at the end
 *     (StreamReport); exits 0 when both directions verify.
 *
 * Data is generated and hashed in 1 MiB chunks (an AES-256-CTR keystream), so
 * 64 MiB each way costs no more memory than 1 MiB. Nothing relies on
 * half-close: both ends count bytes.
 */
import { at } from '../../../src/util/at.js';
import net from 'node:net';
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PayloadCheck, UploadHash } from '../../matrix/payload-check.js';
import type { TransferReport } from '../../matrix/duplex-check.js';

const CHUNK = 1 << 20;
const MAX_HEADER = 1024;
const PROGRESS_MS = 100;

/** A seeded byte source: successive calls continue one AES-256-CTR keystream. */
class SeededSource {
  private readonly cipher: Cipher;
  private left: number;
  constructor(seed: string, size: number) {
    const key = createHash('sha256').update(`burrow-netsim-scenario:${seed}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    this.left = size;
  }
  get remaining(): number {
    return this.left;
  }
  next(): Buffer {
    const n = Math.min(CHUNK, this.left);
    this.left -= n;
    return this.cipher.update(Buffer.alloc(n));
  }
}

/** SHA-256 of what SeededSource(seed, size) produces. */
function seededHash(seed: string, size: number): Buffer {
  const src = new SeededSource(seed, size);
  const h = createHash('sha256');
  while (src.remaining > 0) h.update(src.next());
  return h.digest();
}

/** Writes a source to a socket with back-pressure; calls done once everything is flushed. */
function pump(sock: net.Socket, src: SeededSource, onBytes: (n: number) => void, done: () => void): void {
  const more = (): void => {
    while (src.remaining > 0 && !sock.destroyed) {
      const chunk = src.next();
      const ok = sock.write(chunk, () => onBytes(chunk.length));
      if (!ok) return void sock.once('drain', more);
    }
    if (!sock.destroyed) sock.write(Buffer.alloc(0), done);
  };
  more();
}

export interface StreamProgress {
  /** Payload bytes received so far (without the trailer). */
  recv: number;
  /** Bytes flushed to the socket so far. */
  sent: number;
  /** ms since connect() was called. */
  t: number;
}

export interface StreamReport extends TransferReport {
  /** Wall-clock time the client ended (epoch ms), to line up with other events. */
  endedAt: number;
}

function say(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function target(ip: string, port: number): void {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    let header = '';
    let down: SeededSource | null = null;
    let upload = new UploadHash(0);
    let sentAll = false;
    let gotAll = false;
    const finish = (): void => {
      if (sentAll && gotAll) sock.end(upload.digest());
    };
    const onPayload = (chunk: Buffer): void => {
      if (upload.push(chunk)) {
        gotAll = true;
        finish();
      }
    };
    sock.on('data', (chunk: Buffer) => {
      if (down !== null) return onPayload(chunk);
      header += chunk.toString('latin1');
      const nl = header.indexOf('\n');
      if (nl < 0) {
        if (header.length > MAX_HEADER) sock.destroy();
        return;
      }
      let spec: { down?: unknown; up?: unknown; seed?: unknown };
      try {
        spec = JSON.parse(header.slice(0, nl)) as typeof spec;
      } catch {
        return void sock.destroy();
      }
      if (!Number.isSafeInteger(spec.down) || !Number.isSafeInteger(spec.up) || typeof spec.seed !== 'string') return void sock.destroy();
      upload = new UploadHash(spec.up as number);
      down = new SeededSource(`${spec.seed}:down`, spec.down as number);
      const rest = Buffer.from(header.slice(nl + 1), 'latin1');
      gotAll = upload.complete;
      pump(sock, down, () => {}, () => {
        sentAll = true;
        finish();
      });
      if (rest.length) onPayload(rest);
    });
  });
  server.on('error', (e) => {
    say({ error: e.message });
    process.exit(1);
  });
  server.listen(port, ip, () => say({ ready: true, port }));
}

function client(ip: string, port: number, down: number, up: number, seed: string, timeoutMs: number): void {
  const downHash = seededHash(`${seed}:down`, down);
  const upHash = seededHash(`${seed}:up`, up);
  const t0 = performance.now();
  const rx = new PayloadCheck(down);
  let sent = 0;
  let sentAll = up === 0;
  let ttfb: number | null = null;
  let finished = false;
  const since = (): number => performance.now() - t0;
  const progress = setInterval(() => say({ progress: { recv: rx.received, sent, t: Math.round(since()) } satisfies StreamProgress }), PROGRESS_MS);
  const report = (r: Partial<StreamReport>): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearInterval(progress);
    const full: StreamReport = {
      ok: false,
      ttfbMs: ttfb,
      totalMs: null,
      sentBytes: sent,
      receivedBytes: rx.received,
      downVerified: false,
      upVerified: false,
      endedAt: Date.now(),
      ...r,
    };
    say({ report: full });
    sock.destroy();
    process.exitCode = full.ok ? 0 : 1;
  };
  const timer = setTimeout(() => report({ error: `timed out after ${timeoutMs} ms` }), timeoutMs);
  const sock = net.connect({ host: ip, port });
  sock.setNoDelay(true);
  sock.on('connect', () => {
    sock.write(JSON.stringify({ down, up, seed }) + '\n');
    pump(sock, new SeededSource(`${seed}:up`, up), (n) => (sent += n), () => {
      sentAll = true;
      check();
    });
  });
  sock.on('data', (chunk: Buffer) => {
    ttfb ??= since();
    rx.push(chunk);
    check();
  });
  sock.on('error', (e: NodeJS.ErrnoException) => report({ error: e.code ?? e.message }));
  sock.on('close', () => report({ error: 'connection closed early' }));
  function check(): void {
    if (!rx.complete || !sentAll) return;
    const { downSha256: _, ...v } = rx.verdict(downHash, upHash);
    report({ ...v, totalMs: since() });
  }
}

function main(argv: string[]): void {
  const [mode, ip, port, ...rest] = argv;
  const nums = rest.map(Number);
  if (mode === 'target' && ip && Number.isInteger(Number(port)) && rest.length === 0) return target(ip, Number(port));
  if (
    mode === 'client' && ip && Number.isInteger(Number(port)) && rest.length === 4 &&
    Number.isSafeInteger(nums[0]) && Number.isSafeInteger(nums[1]) && at(nums, 0) >= 0 && at(nums, 1) >= 0 && Number.isFinite(nums[3])
  ) {
    return client(ip, Number(port), at(nums, 0), at(nums, 1), at(rest, 2), at(nums, 3));
  }
  process.stderr.write('usage: stream target <ip> <port> | stream client <ip> <port> <down> <up> <seed> <timeoutMs>\n');
  process.exit(2);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));

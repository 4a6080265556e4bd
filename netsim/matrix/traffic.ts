/**
 * The two ends of the matrix's byte-exact duplex check, as one small program
 * that the runner starts inside lab namespaces (compiled: dist/netsim/matrix/traffic.js).
 *
 *   traffic target <ip> <port> <bytes> <seed>
 *     A duplex TCP service. On every connection it sends <bytes> of data
 *     generated from <seed> at once, hashes what it receives, and after
 *     <bytes> have arrived sends the 32-byte SHA-256 of them as a trailer and
 *     ends. Prints {"ready":true} once listening, one JSON line per connection.
 *
 *   traffic client <ip> <port> <bytes> <upSeed> <downSeed> <timeoutMs>
 *     Connects, sends <bytes> generated from <upSeed>, reads <bytes> + 32,
 *     and checks both directions: the data against <downSeed>'s SHA-256, the
 *     trailer against the SHA-256 of what it sent. Prints one JSON line
 *     (ClientReport) and exits 0 when both match.
 *
 * Neither end relies on half-close: both count bytes, so a tunnel that loses
 * or adds a byte shows up as a mismatch or a timeout, never as a hang.
 */
import net from 'node:net';
import { createCipheriv, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PayloadCheck } from './payload-check.js';

export { TRAILER_BYTES } from './payload-check.js';

/** Deterministic pseudo-random bytes: AES-256-CTR keystream keyed by SHA-256(seed). */
export function seededBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`burrow-netsim-matrix:${seed}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

export function sha256hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ClientReport {
  ok: boolean;
  /** connect() called → first byte from the target, ms. */
  ttfbMs: number | null;
  /** connect() called → both directions complete, ms. */
  totalMs: number | null;
  /** Bytes written by the client (all flushed to the socket). */
  sentBytes: number;
  /** Payload bytes received (without the trailer). */
  receivedBytes: number;
  /** Target → client data matches the seed's SHA-256. */
  downVerified: boolean;
  /** The target's trailer (SHA-256 of what it received) matches what the client sent. */
  upVerified: boolean;
  error?: string;
}

function say(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function target(ip: string, port: number, size: number, seed: string): void {
  const data = seededBytes(seed, size);
  let conns = 0;
  const server = net.createServer((sock) => {
    const id = ++conns;
    const h = createHash('sha256');
    let got = 0;
    let done = false;
    sock.setNoDelay(true);
    sock.on('error', (e) => say({ conn: id, error: e.message, received: got }));
    sock.write(data);
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      const take = Math.min(chunk.length, size - got);
      h.update(take === chunk.length ? chunk : chunk.subarray(0, take));
      got += take;
      if (got >= size) {
        done = true;
        sock.end(h.digest());
        say({ conn: id, received: got, extra: chunk.length - take });
      }
    });
    sock.on('close', () => {
      if (!done) say({ conn: id, closedEarly: true, received: got });
    });
  });
  server.on('error', (e) => {
    say({ error: e.message });
    process.exit(1);
  });
  server.listen(port, ip, () => say({ ready: true, port }));
}

function client(ip: string, port: number, size: number, upSeed: string, downSeed: string, timeoutMs: number): void {
  const up = seededBytes(upSeed, size);
  const upHash = createHash('sha256').update(up).digest();
  const downHash = createHash('sha256').update(seededBytes(downSeed, size)).digest();
  const rx = new PayloadCheck(size);
  let sentBytes = 0;
  let ttfb: number | null = null;
  let finished = false;
  const t0 = performance.now();
  const report = (r: Partial<ClientReport>): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const full: ClientReport = {
      ok: false,
      ttfbMs: ttfb,
      totalMs: null,
      sentBytes,
      receivedBytes: rx.received,
      downVerified: false,
      upVerified: false,
      ...r,
    };
    say(full);
    sock.destroy();
    process.exitCode = full.ok ? 0 : 1;
  };
  const timer = setTimeout(
    () => report({ error: `timed out after ${timeoutMs} ms (sent ${sentBytes}, received ${rx.received}+${rx.trailerBytes})` }),
    timeoutMs,
  );
  const sock = net.connect({ host: ip, port });
  sock.setNoDelay(true);
  sock.on('connect', () => {
    sock.write(up, () => {
      sentBytes = size;
      check();
    });
  });
  sock.on('data', (chunk: Buffer) => {
    if (ttfb === null) ttfb = performance.now() - t0;
    rx.push(chunk);
    check();
  });
  sock.on('error', (e) => report({ error: e.message }));
  sock.on('close', () => report({ error: `connection closed early (sent ${sentBytes}, received ${rx.received}+${rx.trailerBytes})` }));
  function check(): void {
    if (!rx.complete || sentBytes < size) return;
    const { downSha256: _, ...v } = rx.verdict(downHash, upHash);
    report({ ...v, totalMs: performance.now() - t0 });
  }
}

function main(argv: string[]): void {
  const [mode, ip, port, bytes, ...rest] = argv;
  const size = Number(bytes);
  if (!ip || !Number.isInteger(Number(port)) || !Number.isInteger(size) || size <= 0) {
    process.stderr.write('usage: traffic target <ip> <port> <bytes> <seed> | traffic client <ip> <port> <bytes> <upSeed> <downSeed> <timeoutMs>\n');
    process.exit(2);
  }
  if (mode === 'target' && rest.length === 1) target(ip, Number(port), size, rest[0]!);
  else if (mode === 'client' && rest.length === 3) client(ip, Number(port), size, rest[0]!, rest[1]!, Number(rest[2]));
  else {
    process.stderr.write(`traffic: bad arguments ${JSON.stringify(argv)}\n`);
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));

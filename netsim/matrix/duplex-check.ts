/**
 * The matrix's byte-exact duplex check over any StreamTransport, for both
 * lanes: the in-process lane runs it on the virtual network, the kernel lane
 * on node:net inside the lab's namespaces (kernel/matrix/traffic.ts, a program):
 *
 * - the target sends `down` bytes on every connection at once, hashes what it
 *   receives and, after `up` bytes, sends their SHA-256 as a 32-byte trailer;
 * - the client sends `up` bytes, reads `down` + 32, and checks both ways.
 *
 * Times come from the caller's clock (the virtual scheduler on the in-process
 * lane, performance.now() on the kernel lane).
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { StreamServer, StreamSocket, StreamTransport } from '../../src/net/stream-transport.js';
import { PayloadCheck, UploadHash } from './payload-check.js';

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

/** Seeded payloads with their SHA-256, kept while the same seed and size are asked for again (a matrix reuses them). */
export interface Payload {
  readonly data: Buffer;
  readonly sha256: Buffer;
}

const cache = new Map<string, Payload>();

export function payload(seed: string, size: number): Payload {
  const key = `${seed}/${size}`;
  let p = cache.get(key);
  if (p === undefined) {
    // Bounded: a run uses two payloads (up and down).
    if (cache.size >= 4) cache.clear();
    const data = seededBytes(seed, size);
    p = { data, sha256: createHash('sha256').update(data).digest() };
    cache.set(key, p);
  }
  return p;
}

export interface TargetHandle {
  readonly server: StreamServer;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Starts the target service on `transport`, listening on host:port; it reads `upSize` bytes (default: as many as it sends). */
export async function startTarget(transport: StreamTransport, host: string, port: number, down: Payload, upSize = down.data.length): Promise<TargetHandle> {
  const size = upSize;
  const sockets = new Set<StreamSocket>();
  let connections = 0;
  const server = transport.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const upload = new UploadHash(size);
    sock.on('error', () => {});
    sock.write(down.data);
    sock.on('data', (chunk: Buffer) => {
      if (upload.push(chunk)) sock.end(upload.digest());
    });
  });
  await server.listen(port, host);
  return {
    server,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await server.close();
    },
  };
}

export interface ClientResult {
  ok: boolean;
  /** Connect called → first byte back, in the caller's clock. */
  ttfbMs: number | null;
  /** Connect called → both directions complete and checked. */
  totalMs: number | null;
  sentBytes: number;
  receivedBytes: number;
  downVerified: boolean;
  upVerified: boolean;
  /** SHA-256 (hex) of what arrived, for traces. */
  downSha256: string | null;
  error?: string;
}

/** The result as a report to print: without the digest. */
export type TransferReport = Omit<ClientResult, 'downSha256'>;

export interface ClientRun {
  /** Settles when the check is complete or failed. */
  readonly result: Promise<ClientResult>;
  /** Non-null once settled (for a scheduler's done() predicate). */
  readonly settled: ClientResult | null;
  /** Bytes of `down` received so far (to act mid-transfer). */
  readonly received: number;
  /** Gives up now with this error (a bounded wait ran out). */
  abort(error: string): void;
}

/** Connects to host:port, moves `up` and checks `down` (see the module comment; the two may differ in size). */
export function runClient(transport: StreamTransport, host: string, port: number, up: Payload, down: Payload, now: () => number): ClientRun {
  const upSize = up.data.length;
  const size = down.data.length;
  const rx = new PayloadCheck(size);
  let sentBytes = 0;
  let ttfb: number | null = null;
  let settled: ClientResult | null = null;
  const t0 = now();
  let resolve!: (r: ClientResult) => void;
  const result = new Promise<ClientResult>((r) => (resolve = r));
  const sock = transport.connect({ host, port, noDelay: true });
  const finish = (r: Partial<ClientResult>): void => {
    if (settled !== null) return;
    settled = {
      ok: false,
      ttfbMs: ttfb,
      totalMs: null,
      sentBytes,
      receivedBytes: rx.received,
      downVerified: false,
      upVerified: false,
      downSha256: null,
      ...r,
    };
    sock.destroy();
    resolve(settled);
  };
  const check = (): void => {
    if (!rx.complete || sentBytes < upSize) return;
    const v = rx.verdict(down.sha256, up.sha256);
    finish({ ...v, totalMs: now() - t0, downSha256: v.downSha256.toString('hex') });
  };
  sock.on('connect', () => {
    sock.write(up.data, () => {
      sentBytes = upSize;
      check();
    });
  });
  sock.on('data', (chunk: Buffer) => {
    if (ttfb === null) ttfb = now() - t0;
    rx.push(chunk);
    check();
  });
  sock.on('error', (e: Error) => finish({ error: e.message }));
  sock.on('close', () => finish({ error: `connection closed early (sent ${sentBytes}, received ${rx.received}+${rx.trailerBytes})` }));
  return {
    result,
    get settled() {
      return settled;
    },
    get received() {
      return rx.received;
    },
    abort: (error) => finish({ error }),
  };
}


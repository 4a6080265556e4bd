import net from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';

export interface Exchange {
  /** SHA-256 and length of everything received until the server closed. */
  sha256: string;
  bytes: number;
  /** Set if the connection ended abortively. */
  error?: string;
}

/**
 * Connects to 127.0.0.1:port, sends `upload` (then half-closes) while reading
 * everything the server sends until it closes.
 */
export async function exchange(port: number, upload: Buffer, timeoutMs = 120_000): Promise<Exchange> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (d: Buffer) => {
    bytes += d.length;
    hash.update(d);
  });
  const finished = new Promise<Exchange>((resolve) => {
    let error: string | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ sha256: hash.digest('hex'), bytes, ...(error ? { error } : {}) }));
  });
  const timer = setTimeout(() => socket.destroy(new Error('exchange timed out')), timeoutMs);
  try {
    await once(socket, 'connect');
    for (let off = 0; off < upload.length; off += 256 * 1024) {
      if (!socket.write(upload.subarray(off, off + 256 * 1024))) await once(socket, 'drain');
    }
    socket.end();
    return await finished;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads from a fresh connection without writing anything, until `want` bytes arrived. */
export async function readFirst(port: number, want: number, timeoutMs = 15_000): Promise<Buffer> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${n} of ${want} bytes in ${timeoutMs} ms`)), timeoutMs);
      socket.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n >= want) {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks));
        }
      });
    });
  } finally {
    socket.destroy();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';

export interface Sink {
  readonly port: number;
  received(): number;
  /** Resolves when `n` bytes in total have arrived. */
  waitFor(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A TCP server on loopback that counts and discards what it receives. */
export async function startSink(): Promise<Sink> {
  let total = 0;
  let waiter: { n: number; resolve: () => void } | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (waiter !== null && total >= waiter.n) {
        const w = waiter;
        waiter = null;
        w.resolve();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received: () => total,
    waitFor(n, timeoutMs) {
      if (total >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sink got ${total} of ${n} bytes in ${timeoutMs} ms`)), timeoutMs);
        waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** An echo server on loopback. */
export async function startEcho(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.pipe(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * Pushes `total` bytes into 127.0.0.1:port as fast as back-pressure allows and
 * returns the seconds until `sink` has them all.
 */
export async function pushThrough(port: number, total: number, sink: Sink, timeoutMs: number): Promise<number> {
  const chunk = randomBytes(256 * 1024);
  const base = sink.received();
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  const start = performance.now();
  const done = sink.waitFor(base + total, timeoutMs);
  let sent = 0;
  while (sent < total) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await once(socket, 'drain');
  }
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return (performance.now() - start) / 1000;
}

/** Round trips of `size`-byte messages through an echo path; returns RTTs in ms. */
export async function pingPong(port: number, size: number, count: number): Promise<number[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const msg = randomBytes(size);
  const rtts: number[] = [];
  let pending = 0;
  let resolveOne: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    pending -= d.length;
    if (pending <= 0 && resolveOne !== null) {
      const r = resolveOne;
      resolveOne = null;
      r();
    }
  });
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      pending += size;
      const got = new Promise<void>((resolve) => (resolveOne = resolve));
      socket.write(msg);
      await got;
      rtts.push(performance.now() - t0);
    }
  } finally {
    socket.destroy();
  }
  return rtts;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? NaN;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  return port;
}

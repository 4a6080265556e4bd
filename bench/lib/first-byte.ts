/** Connect -> first byte timings: a TCP service that speaks first, and the clock on a client of it. */
import net from 'node:net';
import { once } from 'node:events';

/** A TCP service that speaks first (like SSH or SMTP) on loopback. */
export async function startBanner(): Promise<{ port: number; close(): void }> {
  const banner = net.createServer((s) => {
    s.on('error', () => {});
    s.end('220 ready\r\n');
  });
  banner.listen(0, '127.0.0.1');
  await once(banner, 'listening');
  return { port: (banner.address() as net.AddressInfo).port, close: () => banner.close() };
}

/** ms from a fresh TCP connect to `port` to the first byte back. */
export async function firstByte(port: number): Promise<number> {
  const t0 = performance.now();
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'data');
  s.destroy();
  return performance.now() - t0;
}

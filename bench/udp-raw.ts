/**
 * Baseline: raw node:dgram on loopback, one process sending 1400-byte
 * datagrams and receiving them, as fast as the event loop allows.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

export async function rawUdpThroughput(seconds: number, size = 1400): Promise<{ mbps: number; pps: number }> {
  const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  const tx = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
  rx.bind(0, '127.0.0.1');
  tx.bind(0, '127.0.0.1');
  await Promise.all([once(rx, 'listening'), once(tx, 'listening')]);
  const port = rx.address().port;
  let received = 0;
  let bytes = 0;
  rx.on('message', (m) => {
    received++;
    bytes += m.length;
  });
  const payload = Buffer.alloc(size, 7);
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const burst = () => {
      if (performance.now() >= end) return resolve();
      for (let i = 0; i < 64; i++) tx.send(payload, port, '127.0.0.1');
      setImmediate(burst);
    };
    burst();
  });
  await new Promise((r) => setTimeout(r, 50));
  const elapsed = (performance.now() - start) / 1000;
  rx.close();
  tx.close();
  return { mbps: bytes / elapsed / 1e6, pps: received / elapsed };
}

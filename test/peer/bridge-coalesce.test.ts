/**
 * bridge() hands what a tunnel stream delivers in one turn to the TCP socket
 * as one write (one writev), not one write per chunk, and still carries every
 * byte, in order, with the half-close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { bridge } from '../../peer/bridge.js';

class FakeStream extends Duplex {
  constructor() {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(_c: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }
  reset(): void {
    this.destroy();
  }
}

test('chunks a stream delivers in one turn reach the socket in one writev (up to the high-water mark), byte-exact, then the FIN', { timeout: 10_000 }, async () => {
  const received: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => received.push(d));
    s.on('end', () => s.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const calls: number[] = [];
  const writev = socket._writev?.bind(socket);
  const write = socket._write.bind(socket);
  socket._writev = (chunks, cb) => {
    calls.push(chunks.length);
    writev?.(chunks, cb);
  };
  socket._write = (chunk, enc, cb) => {
    calls.push(1);
    write(chunk, enc, cb);
  };
  const stream = new FakeStream();
  bridge(socket, stream);
  await new Promise((r) => setImmediate(r)); // pipe's resume() runs on a tick
  const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1300, i));
  for (const c of chunks) stream.push(c); // one turn, like a KCP delivery
  await new Promise((r) => setImmediate(r));
  stream.push(Buffer.from('tail'));
  stream.push(null);
  await once(socket, 'end');
  assert.deepEqual(Buffer.concat(received), Buffer.concat([...chunks, Buffer.from('tail')]));
  // Corked, the socket buffers the turn's chunks until its high-water mark
  // (16 KiB: 12 or 13 chunks); write() then says stop and pipe pauses the
  // stream, so the rest follows after 'drain': back-pressure as before.
  assert.ok((calls[0] ?? 0) >= 12, `the turn's chunks went out together (calls: ${calls.join(',')})`);
  assert.ok(calls.length <= 4, `a few calls per turn, not one per chunk (calls: ${calls.join(',')})`);
  socket.destroy();
  server.close();
});

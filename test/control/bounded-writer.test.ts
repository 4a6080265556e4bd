/** BoundedWriter over loopback TCP: a reader that does not read is cut off, by queue size or by time. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { BoundedWriter, type WriterOverflow } from '../../src/control/bounded-writer.js';
import { realScheduler } from '../../src/clock/scheduler.js';

const open: { close(): void }[] = [];
after(() => {
  for (const o of open) o.close();
});

/** A loopback pair: `writer` is the server side we write to, `reader` the client that never reads. */
async function pair(): Promise<{ writer: net.Socket; reader: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const reader = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  reader.pause();
  await once(reader, 'connect');
  const [writer] = await accepted;
  writer.on('error', () => {});
  reader.on('error', () => {});
  open.push({ close: () => (writer.destroy(), reader.destroy(), server.close()) });
  return { writer, reader };
}

describe('BoundedWriter', { timeout: 30_000 }, () => {
  it('refuses the write that would queue more than the bound, says so once, and drops everything after', async () => {
    const { writer } = await pair();
    const overflows: WriterOverflow[] = [];
    const w = new BoundedWriter(writer, { maxQueuedBytes: 100_000 }, (o) => overflows.push(o));
    const chunk = Buffer.alloc(16 * 1024, 1);
    let accepted = 0;
    // Loopback buffers take a few MB before anything queues in the process; bounded either way.
    for (let i = 0; i < 4096 && overflows.length === 0; i++) {
      if (w.write(chunk)) accepted++;
      assert.ok(writer.writableLength <= 100_000, `queued ${writer.writableLength}`);
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(overflows.length, 1);
    const o = overflows[0]!;
    assert.equal(o.reason, 'queue');
    assert.ok(o.queuedBytes + chunk.length > 100_000);
    assert.equal(w.overflowed, true);
    assert.equal(w.write(Buffer.alloc(1)), false);
    assert.equal(overflows.length, 1, 'told once');
    assert.ok(w.peakQueuedBytes <= 100_000);
    assert.ok(accepted > 0);
  });

  it('with a stall timeout, a socket that stays full that long is given up on even under the byte bound', async () => {
    const { writer } = await pair();
    const overflows: WriterOverflow[] = [];
    const w = new BoundedWriter(writer, { maxQueuedBytes: 1 << 30, stallTimeoutMs: 200, scheduler: realScheduler }, (o) => overflows.push(o));
    const chunk = Buffer.alloc(64 * 1024, 2);
    const started = Date.now();
    // Fill until the socket says it is full, then stop writing.
    for (let i = 0; i < 2048 && w.write(chunk) && !writer.writableNeedDrain; i++) await new Promise((r) => setImmediate(r));
    assert.equal(writer.writableNeedDrain, true, 'the reader never reads, so the socket fills');
    const deadline = Date.now() + 5000;
    while (overflows.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(overflows.length, 1);
    assert.equal(overflows[0]!.reason, 'stalled');
    assert.ok(Date.now() - started >= 200);
  });

  it('a reader that catches up (drain) is not cut off', async () => {
    const { writer, reader } = await pair();
    const overflows: WriterOverflow[] = [];
    const w = new BoundedWriter(writer, { maxQueuedBytes: 1 << 30, stallTimeoutMs: 300, scheduler: realScheduler }, (o) => overflows.push(o));
    const chunk = Buffer.alloc(64 * 1024, 3);
    for (let i = 0; i < 2048 && w.write(chunk) && !writer.writableNeedDrain; i++) await new Promise((r) => setImmediate(r));
    reader.resume();
    await once(writer, 'drain');
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(overflows, []);
    w.dispose();
  });
});

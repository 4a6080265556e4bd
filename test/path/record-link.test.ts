import { splitAt, waitFor } from '../support/poll.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { RECORD_OVERHEAD, RecordOpener, RecordSealer, deriveRecordKeys, deriveSessionKeys } from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';
import { recordFrameHeader } from '../../src/path/record-frame-reader.js';
import { DEFAULT_HIGH_WATER_BYTES, DEFAULT_MAX_RECORD, RecordLink } from '../../src/path/record-link.js';
import type { RecordPath } from '../../src/path/record-path.js';
import { at } from '../../src/util/at.js';

interface Pair {
  a: net.Socket;
  b: net.Socket;
  close(): Promise<void>;
}

const open: Pair[] = [];
after(async () => {
  for (const p of open) await p.close();
});

/** A connected loopback TCP pair: `a` is the client end, `b` the accepted end. */
async function socketPair(): Promise<Pair> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const a = net.connect(port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = await accepted;
  const p: Pair = {
    a,
    b,
    async close() {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  open.push(p);
  return p;
}

function frame(record: Uint8Array): Buffer {
  return Buffer.concat([recordFrameHeader(record.length), record]);
}

function recordOf(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** A record that names its own index in its first 4 bytes. */
function numbered(i: number, len: number): Buffer {
  const b = recordOf(len, i);
  b.writeUInt32BE(i, 0);
  return b;
}


const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


const isArgError = (e: unknown): boolean => isBurrowError(e, 'ERR_INVALID_ARGUMENT');

describe('RecordLink: shape and options', { timeout: 10_000 }, () => {
  it('is a relay RecordPath with a 256 KiB + 64 default maxRecord and a 4 MiB default mark', async () => {
    const { b } = await socketPair();
    const link: RecordPath = new RecordLink(b);
    assert.equal(link.kind, 'relay');
    assert.equal(link.carries, 'records');
    assert.equal(link.label, 'relay via rendezvous');
    assert.equal(link.maxRecord, 256 * 1024 + 64);
    assert.equal(DEFAULT_MAX_RECORD, 256 * 1024 + 64);
    assert.equal(new RecordLink(b).highWaterBytes, DEFAULT_HIGH_WATER_BYTES);
    assert.equal(DEFAULT_HIGH_WATER_BYTES, 4 * 1024 * 1024);
    const custom = new RecordLink(b, { label: 'rendezvous x:1', maxRecord: 1000, highWaterBytes: 1 << 20 });
    assert.equal(custom.label, 'rendezvous x:1');
    assert.equal(custom.maxRecord, 1000);
    assert.equal(custom.highWaterBytes, 1 << 20);
  });

  it("never sets the mark below the socket's own writableHighWaterMark (so a 'drain' always follows a false)", async () => {
    const { b } = await socketPair();
    assert.equal(new RecordLink(b, { highWaterBytes: 100 }).highWaterBytes, b.writableHighWaterMark);
  });

  it('refuses options that are not positive integers, or a maxRecord the u32 length cannot carry', async () => {
    const { b } = await socketPair();
    for (const maxRecord of [0, -1, 1.5, Number.NaN, 2 ** 32]) assert.throws(() => new RecordLink(b, { maxRecord }), isArgError);
    for (const highWaterBytes of [0, -5, 0.5, Number.POSITIVE_INFINITY]) assert.throws(() => new RecordLink(b, { highWaterBytes }), isArgError);
    assert.equal(b.destroyed, false, 'a refused option touches nothing');
  });
});

describe('RecordLink: framing', { timeout: 20_000 }, () => {
  it('writes each record as u32 BE length + bytes', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b);
    const records = [recordOf(1, 1), recordOf(300, 2), recordOf(70_000, 3)];
    const expected = Buffer.concat(records.map(frame));
    const got: Buffer[] = [];
    a.on('data', (c: Buffer) => got.push(c));
    for (const r of records) assert.equal(link.send(r), true);
    assert.equal(link.stats.recordsOut, 3);
    assert.equal(link.stats.bytesOut, 70_301);
    await waitFor(() => Buffer.concat(got).length >= expected.length, 'bytes at the peer');
    assert.ok(Buffer.concat(got).equals(expected));
  });

  it('corks a burst for the rest of the turn, so it leaves in one writev', async () => {
    const { b } = await socketPair();
    const link = new RecordLink(b);
    link.send(recordOf(10, 1));
    link.send(recordOf(10, 2));
    assert.equal(b.writableCorked, 1);
    assert.equal(b.writableLength, 2 * 14, 'both records wait in the socket');
    await tick();
    assert.equal(b.writableCorked, 0);
  });

  it('carries records of many sizes up to maxRecord between two links, intact and in order', async () => {
    const { a, b } = await socketPair();
    const la = new RecordLink(a);
    const received: Buffer[] = [];
    const lb = new RecordLink(b).bind((r, path) => {
      assert.equal(path, lb);
      received.push(Buffer.from(r));
    });
    const sizes = [1, 2, 3, 4, 5, 1399, 1400, 65535, 65536, 65537, 200_000, DEFAULT_MAX_RECORD, 1, DEFAULT_MAX_RECORD - 1, 700];
    const records = sizes.map((n, i) => recordOf(n, i));
    for (const r of records) la.send(r);
    await waitFor(() => received.length === records.length, 'all records');
    assert.deepEqual(
      received.map((r) => r.length),
      sizes,
    );
    for (const [i, r] of records.entries()) assert.ok(at(received, i).equals(r), `record ${i}`);
    const total = sizes.reduce((s, n) => s + n, 0);
    assert.deepEqual([la.stats.recordsOut, la.stats.bytesOut], [records.length, total]);
    assert.deepEqual([lb.stats.recordsIn, lb.stats.bytesIn, lb.stats.corrupt], [records.length, total, 0]);
  });

  it('property: records written by the peer in random TCP splits arrive intact', async () => {
    const { a, b } = await socketPair();
    a.setNoDelay(true);
    const received: Buffer[] = [];
    const link = new RecordLink(b).bind((r) => received.push(Buffer.from(r)));
    const size = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 5000 }) }, { weight: 1, arbitrary: fc.constant(DEFAULT_MAX_RECORD) });
    await fc.assert(
      fc.asyncProperty(fc.array(size, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), fc.nat(), async (sizes, cuts, seed) => {
        received.length = 0;
        const records = sizes.map((n, i) => recordOf(n, seed + i));
        for (const piece of splitAt(Buffer.concat(records.map(frame)), cuts).filter((c) => c.length > 0)) {
          a.write(piece);
          await tick();
        }
        await waitFor(() => received.length >= records.length, 'records');
        assert.equal(received.length, records.length);
        for (const [i, r] of records.entries()) assert.ok(at(received, i).equals(r), `record ${i} of ${sizes.join(',')}`);
      }),
      { numRuns: 30 },
    );
    assert.equal(link.isClosed, false);
  });

  it('a largest record fed in 1-byte chunks (data events injected), then records of every small size', async () => {
    const { b } = await socketPair();
    const received: Buffer[] = [];
    new RecordLink(b).bind((r) => received.push(Buffer.from(r)));
    const big = recordOf(DEFAULT_MAX_RECORD, 9);
    const smalls = Array.from({ length: 40 }, (_, i) => recordOf(i + 1, i));
    const stream = Buffer.concat([frame(big), ...smalls.map(frame)]);
    for (let i = 0; i < stream.length; i++) b.emit('data', stream.subarray(i, i + 1));
    assert.equal(received.length, 41);
    assert.ok(at(received, 0).equals(big));
    for (const [i, r] of smalls.entries()) assert.ok(at(received, i + 1).equals(r));
  });

  it('refuses to send a record of 0 or over maxRecord bytes (ERR_INVALID_ARGUMENT), writing nothing', async () => {
    const { b } = await socketPair();
    const link = new RecordLink(b, { maxRecord: 1000 });
    assert.throws(() => link.send(new Uint8Array(0)), isArgError);
    assert.throws(() => link.send(new Uint8Array(1001)), isArgError);
    assert.equal(b.writableLength, 0);
    assert.equal(link.stats.recordsOut, 0);
    assert.equal(link.send(new Uint8Array(1000)), true);
    assert.equal(link.isClosed, false);
  });
});

describe('RecordLink: a corrupt stream', { timeout: 10_000 }, () => {
  for (const [what, length] of [
    ['a zero length', 0],
    ['a length over maxRecord', 1001],
    ['a length of 2^32 - 1', 0xffff_ffff],
  ] as const) {
    it(`${what} closes the link, counted; records before it are delivered, after it not`, async () => {
      const { a, b } = await socketPair();
      const received: Buffer[] = [];
      const link = new RecordLink(b, { maxRecord: 1000 }).bind((r) => received.push(Buffer.from(r)));
      let closed = 0;
      link.whenClosed(() => closed++);
      const bad = Buffer.alloc(4);
      bad.writeUInt32BE(length, 0);
      a.write(Buffer.concat([frame(recordOf(1000, 1)), frame(recordOf(9, 2)), bad, frame(recordOf(9, 3))]));
      await waitFor(() => closed > 0, 'whenClosed');
      assert.deepEqual(
        received.map((r) => r.length),
        [1000, 9],
      );
      assert.equal(link.stats.corrupt, 1);
      assert.equal(link.isClosed, true);
      assert.equal(b.destroyed, true);
      await waitFor(() => a.destroyed, 'the peer socket to close');
      assert.equal(closed, 1);
    });
  }
});

describe('RecordLink: leftover bytes from the control hand-over', { timeout: 10_000 }, () => {
  it("delivers leftover records at bind(), then the socket's, with a record split between them", async () => {
    const { a, b } = await socketPair();
    const r = [recordOf(5, 1), recordOf(70_000, 2), recordOf(40, 3), recordOf(7, 4)];
    const third = frame(at(r, 2));
    const leftover = Buffer.concat([frame(at(r, 0)), frame(at(r, 1)), third.subarray(0, 2)]);
    const link = new RecordLink(b, { leftover });
    await tick();
    const received: Buffer[] = [];
    link.bind((x) => received.push(Buffer.from(x)));
    assert.equal(received.length, 2, 'whole leftover records are delivered synchronously by bind()');
    a.write(Buffer.concat([third.subarray(2), frame(at(r, 3))]));
    await waitFor(() => received.length === 4, 'the rest');
    for (const [i, x] of r.entries()) assert.ok(at(received, i).equals(x), `record ${i}`);
  });

  it('loses nothing that arrives before bind()', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b, { leftover: frame(recordOf(20, 1)) });
    a.write(frame(recordOf(30, 2)));
    await waitFor(() => b.readableLength >= 34 || b.bytesRead >= 34, 'the socket bytes to arrive');
    await sleep(20);
    const received: Buffer[] = [];
    link.bind((x) => received.push(Buffer.from(x)));
    await waitFor(() => received.length === 2, 'both records');
    assert.ok(at(received, 0).equals(recordOf(20, 1)));
    assert.ok(at(received, 1).equals(recordOf(30, 2)));
  });

  it('a leftover holding a corrupt length closes the link at bind()', async () => {
    const { b } = await socketPair();
    const link = new RecordLink(b, { leftover: Buffer.concat([frame(recordOf(3, 1)), Buffer.alloc(4)]) });
    const received: Buffer[] = [];
    link.bind((x) => received.push(Buffer.from(x)));
    assert.equal(received.length, 1);
    assert.equal(link.isClosed, true);
    assert.equal(link.stats.corrupt, 1);
  });
});

describe('RecordLink: receive back-pressure (pauseReading / resumeReading)', { timeout: 20_000 }, () => {
  it('a receiver that pauses mid-chunk gets nothing more until resume; the rest waits, then arrives in order', async () => {
    const { b } = await socketPair();
    const received: number[] = [];
    let pausedAt = -1;
    const link: RecordLink = new RecordLink(b).bind((r) => {
      received.push(r.readUInt32BE(0));
      if (received.length === 3) {
        link.pauseReading();
        pausedAt = received.length;
      }
    });
    const records = Array.from({ length: 10 }, (_, i) => numbered(i, 100));
    b.emit('data', Buffer.concat(records.map(frame)));
    assert.equal(pausedAt, 3);
    assert.deepEqual(received, [0, 1, 2]);
    assert.equal(link.pendingBytes, 7 * 104, 'the rest of the chunk waits in the link');
    assert.equal(b.isPaused(), true);
    await sleep(20);
    assert.equal(received.length, 3, 'nothing while paused');
    link.resumeReading();
    assert.equal(received.length, 3, 'delivery resumes on the next tick, not inside resumeReading()');
    await tick();
    assert.deepEqual(
      received,
      records.map((_, i) => i),
    );
    assert.equal(link.pendingBytes, 0);
    assert.equal(b.isPaused(), false);
  });

  it('pause and resume from inside the receiver carries on with the same chunk', async () => {
    const { b } = await socketPair();
    const received: number[] = [];
    const link: RecordLink = new RecordLink(b).bind((r) => {
      received.push(r.readUInt32BE(0));
      link.pauseReading();
      link.resumeReading();
    });
    b.emit('data', Buffer.concat([numbered(0, 8), numbered(1, 8), numbered(2, 8)].map(frame)));
    assert.deepEqual(received, [0, 1, 2]);
  });

  it('pausing before bind() holds the leftover and the socket until resume', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b, { leftover: frame(numbered(0, 10)) });
    link.pauseReading();
    const received: number[] = [];
    link.bind((r) => received.push(r.readUInt32BE(0)));
    a.write(frame(numbered(1, 10)));
    await sleep(30);
    assert.deepEqual(received, []);
    link.resumeReading();
    await waitFor(() => received.length === 2, 'both records');
    assert.deepEqual(received, [0, 1]);
  });

  it('property: random pauses and resumes between records of random sizes lose nothing and keep the order', async () => {
    const { a, b } = await socketPair();
    const la = new RecordLink(a);
    const received: number[] = [];
    let paused = false;
    let deliveredWhilePaused = 0;
    let pauseNext: (n: number) => boolean = () => false;
    const lb: RecordLink = new RecordLink(b).bind((r) => {
      if (paused) deliveredWhilePaused++;
      received.push(r.readUInt32BE(0));
      if (pauseNext(received.length)) {
        paused = true;
        lb.pauseReading();
        setTimeout(() => {
          paused = false;
          lb.resumeReading();
        }, 1);
      }
    });
    let next = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 4, max: 40_000 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        async (sizes, pauses) => {
          pauseNext = (n) => at(pauses, n % pauses.length);
          const first = next;
          for (const n of sizes) la.send(numbered(next++, n));
          await waitFor(() => received.length === next, `${next} records`);
          assert.deepEqual(
            received.slice(first),
            sizes.map((_, i) => first + i),
          );
        },
      ),
      { numRuns: 25 },
    );
    assert.equal(deliveredWhilePaused, 0);
    assert.equal(lb.isClosed, false);
  });

  it("pausing stops reading the socket, so the sender's queue fills and send() says so; resuming drains it and delivers everything", async () => {
    const { a, b } = await socketPair();
    const highWaterBytes = 256 * 1024;
    const sender = new RecordLink(a, { highWaterBytes });
    const received: number[] = [];
    const receiver = new RecordLink(b).bind((r) => received.push(r.readUInt32BE(0)));
    receiver.pauseReading();
    let sent = 0;
    let full = false;
    let queuedWhenFull = 0;
    // One record a turn: the queue passes the mark only once the kernel buffers are full.
    for (let round = 0; round < 4000 && !full; round++) {
      full = !sender.send(numbered(sent++, 64 * 1024));
      queuedWhenFull = a.writableLength;
      if (!full) await tick();
    }
    assert.ok(full, 'send() returned false once the kernel buffers and the queue filled');
    assert.ok(queuedWhenFull >= highWaterBytes, `queued ${queuedWhenFull}`);
    assert.ok(received.length === 0, 'nothing delivered while paused');
    let drained = 0;
    sender.onDrain(() => drained++);
    await sleep(30);
    assert.equal(drained, 0, 'the queue does not drain while the peer does not read');
    receiver.resumeReading();
    await waitFor(() => drained === 1, 'onDrain');
    await waitFor(() => received.length === sent, `${sent} records`);
    assert.deepEqual(
      received,
      Array.from({ length: sent }, (_, i) => i),
    );
    assert.equal(drained, 1, 'onDrain runs once');
  });

  it('a clean end from the peer while records wait: they are delivered on resume, then the link closes', async () => {
    const { a, b } = await socketPair();
    const received: number[] = [];
    const link: RecordLink = new RecordLink(b).bind((r) => {
      received.push(r.readUInt32BE(0));
      if (received.length === 1) link.pauseReading();
    });
    let closed = 0;
    link.whenClosed(() => closed++);
    a.end(Buffer.concat([numbered(0, 50), numbered(1, 50), numbered(2, 50)].map(frame)));
    await waitFor(() => received.length === 1, 'the first record');
    await sleep(30);
    assert.equal(closed, 0, 'still open: records wait');
    link.resumeReading();
    await waitFor(() => closed === 1, 'whenClosed');
    assert.deepEqual(received, [0, 1, 2]);
  });
});

describe('RecordLink: send back-pressure', { timeout: 20_000 }, () => {
  it('send() returns false once the queue reaches the mark, never drops, and onDrain fires when the peer reads again', async () => {
    const { a, b } = await socketPair();
    const highWaterBytes = 1 << 20;
    const sender = new RecordLink(b, { highWaterBytes });
    const got: Buffer[] = [];
    a.on('data', (c: Buffer) => got.push(c));
    a.pause();
    let sent = 0;
    let full = false;
    const record = recordOf(100_000, 7);
    let queuedWhenFull = 0;
    for (let round = 0; round < 2000 && !full; round++) {
      for (let i = 0; i < 8 && !full; i++) {
        full = !sender.send(record);
        queuedWhenFull = b.writableLength;
        sent++;
      }
      if (!full) await tick();
    }
    assert.ok(full, 'send() said the queue is full');
    assert.ok(queuedWhenFull >= highWaterBytes && queuedWhenFull < highWaterBytes + 4 + record.length, `queued ${queuedWhenFull}`);
    // Past the mark send() still queues (it never drops); it only asks the caller to wait.
    assert.equal(sender.send(record), false);
    sent++;
    assert.equal(sender.stats.recordsOut, sent);
    let drained = 0;
    sender.onDrain(() => drained++);
    assert.equal(drained, 0, 'not at once while over the mark');
    a.resume();
    await waitFor(() => drained === 1, 'onDrain');
    const total = sent * (4 + record.length);
    await waitFor(() => got.reduce((s, c) => s + c.length, 0) >= total, 'every byte at the peer');
    const stream = Buffer.concat(got);
    assert.equal(stream.length, total);
    for (let i = 0; i < sent; i++) {
      const off = i * (4 + record.length);
      assert.equal(stream.readUInt32BE(off), record.length);
      assert.ok(stream.subarray(off + 4, off + 4 + record.length).equals(record), `record ${i}`);
    }
    assert.equal(drained, 1);
  });

  it('onDrain runs at once under the mark, and never after close', async () => {
    const { b } = await socketPair();
    const link = new RecordLink(b);
    let ran = 0;
    link.onDrain(() => ran++);
    assert.equal(ran, 1);
    link.close();
    link.onDrain(() => ran++);
    assert.equal(ran, 1);
  });
});

describe('RecordLink: closing', { timeout: 10_000 }, () => {
  it('the peer closing the TCP connection fires whenClosed once', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b).bind(() => {});
    let closed = 0;
    link.whenClosed(() => closed++);
    a.end();
    await waitFor(() => closed > 0, 'whenClosed');
    link.close();
    await sleep(10);
    assert.equal(closed, 1);
    assert.equal(link.isClosed, true);
  });

  it('a reset from the peer closes the link at once, paused or not', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b).bind(() => {});
    link.pauseReading();
    let closed = 0;
    link.whenClosed(() => closed++);
    a.resetAndDestroy();
    await waitFor(() => closed > 0, 'whenClosed');
    assert.equal(link.isClosed, true);
  });

  it('close() destroys the socket, fires whenClosed (also for late registrations), and send() then returns false and writes nothing', async () => {
    const { a, b } = await socketPair();
    const link = new RecordLink(b);
    let closed = 0;
    link.whenClosed(() => closed++);
    link.close();
    link.close();
    assert.equal(closed, 1);
    assert.equal(b.destroyed, true);
    let late = false;
    link.whenClosed(() => {
      late = true;
    });
    assert.equal(late, true);
    assert.equal(link.send(recordOf(3, 3)), false);
    assert.equal(link.stats.recordsOut, 0);
    await waitFor(() => a.destroyed, 'the peer socket to close');
  });

  it('a receiver that closes the link stops delivery of the rest of the chunk', async () => {
    const { b } = await socketPair();
    const received: Buffer[] = [];
    const link: RecordLink = new RecordLink(b).bind((x) => {
      received.push(Buffer.from(x));
      link.close();
    });
    b.emit('data', Buffer.concat([frame(recordOf(4, 1)), frame(recordOf(4, 2)), frame(recordOf(4, 3))]));
    assert.equal(received.length, 1);
    assert.equal(link.isClosed, true);
    assert.equal(link.pendingBytes, 0);
  });

  it('a link made on a socket that is already destroyed is closed', async () => {
    const { b } = await socketPair();
    b.destroy();
    const link = new RecordLink(b);
    assert.equal(link.isClosed, true);
  });
});

describe('RecordLink with record crypto', { timeout: 20_000 }, () => {
  it("carries an initiator's and a responder's sealed records both ways, each opening in order at the other end", async () => {
    const { a, b } = await socketPair();
    const secret = randomBytes(32);
    const i = deriveRecordKeys(deriveSessionKeys(secret, 'initiator', 'test'));
    const r = deriveRecordKeys(deriveSessionKeys(secret, 'responder', 'test'));
    const aead = 'aes-256-gcm' as const;
    const ends = [
      { link: new RecordLink(a), sealer: new RecordSealer(i.sendKey, { aead }), opener: new RecordOpener(i.recvKey, { aead }), got: [] as Buffer[] },
      { link: new RecordLink(b), sealer: new RecordSealer(r.sendKey, { aead }), opener: new RecordOpener(r.recvKey, { aead }), got: [] as Buffer[] },
    ];
    for (const end of ends) {
      end.link.bind((record) => {
        const pt = end.opener.open(record);
        assert.ok(pt !== null, 'every record opens');
        end.got.push(pt);
      });
    }
    const sizes = [1, 1000, 65536, DEFAULT_MAX_RECORD - RECORD_OVERHEAD, 0, 7];
    const payloads = sizes.map((n) => randomBytes(n));
    for (const p of payloads) {
      for (const end of ends) end.link.send(end.sealer.seal(p));
    }
    await waitFor(() => ends.every((e) => e.got.length === payloads.length), 'every record at both ends');
    for (const end of ends) {
      for (const [k, p] of payloads.entries()) assert.ok(at(end.got, k).equals(p), `record ${k}`);
      assert.equal(end.opener.stats.accepted, payloads.length);
    }
  });
});

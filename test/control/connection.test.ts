import { waitFor } from '../support/poll.js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { ControlConnection } from '../../src/control/connection.js';
import type { WriterOverflow } from '../../src/control/bounded-writer.js';
import { ControlFrameDecoder, encodeControlFrame } from '../../src/control/frame.js';
import {
  parseClientMessage,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../src/control/messages.js';

const CONN = '0123456789abcdef0123456789abcdef';

/** A connected loopback TCP pair: `a` is the client end, `b` the accepted end. */
async function socketPair(): Promise<{ a: net.Socket; b: net.Socket; close(): Promise<void> }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const a = net.connect(port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = await accepted;
  return {
    a,
    b,
    async close() {
      a.destroy();
      b.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Reads from `socket` until `n` bytes have arrived. */
function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let len = 0;
    const onData = (c: Buffer) => {
      got.push(c);
      len += c.length;
      if (len >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(got));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}


const pairs: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const p of pairs) await p.close();
});

async function pair() {
  const p = await socketPair();
  pairs.push(p);
  return p;
}

describe('ControlConnection over loopback TCP', { timeout: 10_000 }, () => {
  it('delivers validated messages in order, even when frames are split across writes', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    const got: ClientMessage[] = [];
    conn.on('message', (m: ClientMessage) => got.push(m));
    conn.on('invalid', (r: string) => assert.fail(`unexpected invalid: ${r}`));
    const msgs: ClientMessage[] = [
      { type: 'ping', t: 1 },
      { type: 'register', services: ['nas', 'web'] },
      { type: 'relay-join', connId: CONN, ticket: Buffer.alloc(32, 9).toString('base64') },
      { type: 'pong', t: 2 },
    ];
    const bytes = Buffer.concat(msgs.map((m) => encodeControlFrame(m)));
    // Odd-sized pieces, some across frame boundaries.
    for (let off = 0; off < bytes.length; off += 7) {
      a.write(bytes.subarray(off, off + 7));
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => got.length === msgs.length, 'all messages', 2000);
    assert.deepEqual(got, msgs);
    assert.equal(conn.isClosed, false);
  });

  it('send() writes one encoded frame the peer can decode', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    const msg: ServerMessage = { type: 'error', code: 'NAME_TAKEN', message: 'taken', fatal: false };
    const expected = encodeControlFrame(msg);
    const reading = readBytes(a, expected.length);
    conn.send(msg);
    const bytes = await reading;
    assert.equal(bytes.toString('hex'), expected.toString('hex'));
    const frames = new ControlFrameDecoder().push(bytes);
    assert.deepEqual(frames, [{ body: msg }]);
  });

  it('a framing error emits "invalid" (with the code) and then closes the socket', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    const events: string[] = [];
    const messages: unknown[] = [];
    conn.on('message', (m) => messages.push(m));
    conn.on('invalid', (r: string) => events.push(`invalid ${r}`));
    conn.on('close', () => events.push('close'));
    const bad = encodeControlFrame({ type: 'ping', t: 1 });
    bad[4] = 7; // version
    a.write(Buffer.concat([encodeControlFrame({ type: 'ping', t: 0 }), bad, encodeControlFrame({ type: 'ping', t: 2 })]));
    await once(a, 'close');
    await waitFor(() => events.includes('close'), 'close event', 2000);
    assert.equal(events.length, 2);
    assert.match(events[0]!, /^invalid BAD_VERSION: /);
    assert.equal(events[1], 'close');
    assert.deepEqual(messages, [{ type: 'ping', t: 0 }]);
    assert.equal(conn.isClosed, true);
    assert.equal(b.destroyed, true);
  });

  it('an oversized header is refused without waiting for the body', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    const reasons: string[] = [];
    conn.on('invalid', (r: string) => reasons.push(r));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 30, 0);
    a.write(header);
    await once(a, 'close');
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /^FRAME_TOO_LARGE/);
  });

  it('a schema violation emits "invalid" with the reason and then closes', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    const events: string[] = [];
    conn.on('message', () => events.push('message'));
    conn.on('invalid', (r: string) => events.push(`invalid ${r}`));
    conn.on('close', () => events.push('close'));
    a.write(Buffer.concat([encodeControlFrame({ type: 'ping', t: 1, sneaky: true }), encodeControlFrame({ type: 'ping', t: 2 })]));
    await once(a, 'close');
    await waitFor(() => events.includes('close'), 'close event', 2000);
    assert.deepEqual(events.length, 2);
    assert.match(events[0]!, /^invalid .*sneaky/);
    assert.equal(events[1], 'close');
  });

  it('emits "close" exactly once when the peer goes away, and send() after close is a no-op', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage);
    let closes = 0;
    conn.on('close', () => closes++);
    a.end();
    await waitFor(() => conn.isClosed, 'close', 2000);
    await new Promise((r) => setTimeout(r, 20));
    conn.close();
    assert.equal(closes, 1);
    assert.doesNotThrow(() => conn.send({ type: 'ping', t: 1 }));
  });
});

describe('ControlConnection: a reader that does not read', { timeout: 30_000 }, () => {
  it('is cut off once more than maxQueuedBytes would be left unsent: "overflow", then "close"; nothing more is queued', async () => {
    const { a, b } = await pair();
    a.pause(); // the client never reads
    const conn = new ControlConnection<ClientMessage, ServerMessage>(b, parseClientMessage, { maxQueuedBytes: 32 * 1024 });
    const events: string[] = [];
    conn.on('overflow', (o: WriterOverflow) => events.push(`overflow ${o.reason}`));
    conn.on('close', () => events.push('close'));
    let peak = 0;
    // Loopback buffers take a few MB first; the loop is bounded either way.
    for (let i = 0; i < 200_000 && !conn.isClosed; i++) {
      conn.send({ type: 'ping', t: i });
      peak = Math.max(peak, b.writableLength);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(events, ['overflow queue', 'close']);
    assert.ok(peak <= 32 * 1024, `queued ${peak}`);
    assert.ok(conn.peakQueuedBytes <= 32 * 1024);
    assert.equal(b.destroyed, true);
  });
});

describe('ControlConnection.detach(): hand-over to raw bytes', { timeout: 10_000 }, () => {
  it('returns the raw bytes that followed the last frame in the same TCP chunk, and stops decoding', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ServerMessage, ClientMessage>(a, parseServerMessage);
    // Raw relay bytes that would be an invalid control frame if decoded.
    const raw = Buffer.from([0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0xff, 0xff, 0xff, 0x09]);
    const events: string[] = [];
    let leftover: Buffer | null = null;
    conn.on('invalid', (r: string) => events.push(`invalid ${r}`));
    conn.on('message', (m: ServerMessage) => {
      events.push(m.type);
      if (m.type === 'relay-ok') leftover = conn.detach();
    });
    // Both frames and the raw bytes in ONE write.
    b.write(Buffer.concat([encodeControlFrame({ type: 'ping', t: 5 }), encodeControlFrame({ type: 'relay-ok', connId: CONN }), raw]));
    await waitFor(() => leftover !== null, 'relay-ok', 2000);
    assert.deepEqual(events, ['ping', 'relay-ok']);
    assert.equal(leftover!.toString('hex'), raw.toString('hex'));

    // The socket now belongs to the new owner: later bytes go to it, not to the decoder.
    const later = Buffer.from('more raw bytes \x00\x00\x00\x00');
    const reading = readBytes(a, later.length);
    // detach() leaves the socket paused so nothing is lost before the new owner is ready; the owner resumes it.
    a.resume();
    b.write(later);
    assert.equal((await reading).toString('hex'), later.toString('hex'));
    assert.deepEqual(events, ['ping', 'relay-ok'], 'no invalid/message after detach');
    assert.equal(conn.isClosed, false);
    assert.equal(a.destroyed, false);

    // And it is still a working socket in both directions.
    const back = readBytes(b, 3);
    a.write(Buffer.from('abc'));
    assert.equal((await back).toString(), 'abc');
  });

  it('returns an empty buffer when nothing followed the frame', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ServerMessage, ClientMessage>(a, parseServerMessage);
    let leftover: Buffer | null = null;
    conn.on('message', () => {
      leftover = conn.detach();
    });
    b.write(encodeControlFrame({ type: 'relay-ok', connId: CONN }));
    await waitFor(() => leftover !== null, 'relay-ok', 2000);
    assert.equal(leftover!.length, 0);
  });

  it('returns a partial frame that followed, byte for byte', async () => {
    const { a, b } = await pair();
    const conn = new ControlConnection<ServerMessage, ClientMessage>(a, parseServerMessage);
    let leftover: Buffer | null = null;
    conn.on('message', () => {
      leftover = conn.detach();
    });
    const partial = encodeControlFrame({ type: 'ping', t: 1 }).subarray(0, 6);
    b.write(Buffer.concat([encodeControlFrame({ type: 'relay-ok', connId: CONN }), partial]));
    await waitFor(() => leftover !== null, 'relay-ok', 2000);
    assert.equal(leftover!.toString('hex'), partial.toString('hex'));
  });
});


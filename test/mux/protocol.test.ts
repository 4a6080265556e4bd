/**
 * Hostile or broken peers: raw frames fed straight into one session.
 */
import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBurrowError, type BurrowError } from '../../src/errors.js';
import type { Role } from '../../src/role.js';
import {
  Flag,
  FrameDecoder,
  FrameType,
  GoAwayCode,
  MuxSession,
  ResetReason,
  encodeFrame,
  type Frame,
  type MuxStream,
} from '../../src/mux/index.js';

interface Harness {
  session: MuxSession;
  /** Frames the session wrote. */
  sent(): Frame[];
  closeErr(): BurrowError | undefined;
  streams: MuxStream[];
}

function harness(role: Role = 'responder'): Harness {
  const out: Uint8Array[] = [];
  const session = new MuxSession(
    { write: (b) => (out.push(b), true) },
    { role, keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 },
  );
  let err: BurrowError | undefined;
  session.on('close', (e?: BurrowError) => (err = e));
  const streams: MuxStream[] = [];
  session.on('stream', (s: MuxStream) => {
    s.on('error', () => {});
    streams.push(s);
  });
  return {
    session,
    streams,
    sent: () => new FrameDecoder(1 << 24).push(Buffer.concat(out)).frames,
    closeErr: () => err,
  };
}

const data = (streamId: number, flags: number, payload: Uint8Array): Buffer =>
  encodeFrame({ type: FrameType.Data, flags, streamId, payload });
const ctl = (type: 1 | 2 | 3, flags: number, streamId: number, value: number): Buffer =>
  encodeFrame({ type, flags, streamId, value });

function assertProtocolClose(h: Harness, pattern: RegExp): void {
  assert.equal(h.session.closed, true);
  const err = h.closeErr();
  assert.ok(isBurrowError(err, 'ERR_MUX_PROTOCOL'), String(err));
  assert.match(err.message, pattern);
  assert.equal(h.session.stats.protocolErrors, 1);
  // It told the peer why before closing.
  const last = h.sent().at(-1);
  assert.ok(last !== undefined && last.type === FrameType.GoAway && last.value === GoAwayCode.ProtocolError);
}

describe('protocol errors close the session with ERR_MUX_PROTOCOL, never throw', () => {
  it('data beyond the granted window', () => {
    const h = harness();
    const chunk = new Uint8Array(16 * 1024);
    h.session.receive(data(1, Flag.SYN, chunk));
    for (let i = 1; i < 16; i++) h.session.receive(data(1, 0, chunk)); // exactly 256 KiB: fine
    assert.equal(h.session.closed, false);
    h.session.receive(data(1, 0, new Uint8Array(1)));
    assertProtocolClose(h, /window/);
    assert.equal(at(h.streams, 0).destroyed, true);
  });

  it('unknown frame type', () => {
    const h = harness();
    h.session.receive(Buffer.from('010900000000000000000000', 'hex'));
    assertProtocolClose(h, /unknown-type/);
  });

  it('bad version', () => {
    const h = harness();
    h.session.receive(Buffer.from('020000000000000100000000', 'hex'));
    assertProtocolClose(h, /bad-version/);
  });

  it('oversize declared length, refused before any payload arrives', () => {
    const h = harness();
    h.session.receive(Buffer.from('01000001000000017fffffff', 'hex'));
    assertProtocolClose(h, /payload-too-large/);
  });

  it('SYN with the wrong parity, a reused id, or a stream frame on stream 0', () => {
    let h = harness('responder');
    h.session.receive(data(2, Flag.SYN, new Uint8Array(0))); // responder's own parity
    assertProtocolClose(h, /SYN for stream 2/);

    h = harness('responder');
    h.session.receive(data(5, Flag.SYN, new Uint8Array(0)));
    h.session.receive(data(3, Flag.SYN, new Uint8Array(0))); // ids must increase
    assertProtocolClose(h, /SYN for stream 3/);

    h = harness();
    h.session.receive(ctl(FrameType.WindowUpdate, 0, 0, 5));
    assertProtocolClose(h, /stream 0/);
  });

  it('data after FIN, second FIN, ping on a stream, ping without SYN/ACK', () => {
    let h = harness();
    h.session.receive(data(1, Flag.SYN | Flag.FIN, Buffer.from('a')));
    h.session.receive(data(1, 0, Buffer.from('b')));
    assertProtocolClose(h, /after its FIN/);

    h = harness();
    h.session.receive(data(1, Flag.SYN | Flag.FIN, Buffer.from('a')));
    h.session.receive(ctl(FrameType.WindowUpdate, Flag.FIN, 1, 0));
    assertProtocolClose(h, /second FIN/);

    h = harness();
    h.session.receive(ctl(FrameType.Ping, Flag.SYN, 7, 1));
    assertProtocolClose(h, /PING on stream 7/);

    h = harness();
    h.session.receive(ctl(FrameType.Ping, Flag.SYN | Flag.ACK, 0, 1));
    assertProtocolClose(h, /exactly one/);
  });

  it('a window grant past 2^32-1', () => {
    const h = harness();
    h.session.receive(data(1, Flag.SYN, new Uint8Array(0)));
    h.session.receive(ctl(FrameType.WindowUpdate, 0, 1, 0xffffffff));
    assertProtocolClose(h, /window/);
  });

  it('DATA for an unknown stream is answered with RST, the session stays up', () => {
    const h = harness();
    h.session.receive(data(41, 0, Buffer.from('who?')));
    h.session.receive(data(41, 0, Buffer.from('again'))); // the first RST already went out: answered again
    // Stray WINDOW_UPDATEs and RSTs for unknown streams are ignored silently.
    h.session.receive(ctl(FrameType.WindowUpdate, 0, 43, 100));
    h.session.receive(ctl(FrameType.WindowUpdate, Flag.RST, 45, 0));
    assert.equal(h.session.closed, false);
    assert.equal(h.session.stats.protocolErrors, 0);
    const rsts = h.sent().filter((f) => f.type === FrameType.WindowUpdate && (f.flags & Flag.RST) !== 0);
    assert.deepEqual(
      rsts.map((f) => f.streamId),
      [41, 41],
    );
    const rst = at(rsts, 0);
    assert.equal(rst.type === FrameType.WindowUpdate && rst.value, ResetReason.Reset);
    h.session.close();
  });

  it('a frame split byte by byte is fine; garbage after it is not', () => {
    const h = harness();
    const bytes = Buffer.concat([data(1, Flag.SYN, Buffer.from('hello')), Buffer.from('ff', 'hex')]);
    for (let i = 0; i < bytes.length; i++) h.session.receive(bytes.subarray(i, i + 1));
    assert.equal(h.session.closed, false);
    assert.equal(h.streams.length, 1);
    h.session.receive(Buffer.alloc(11, 0)); // with the 0xff: a 12-byte header, version 255
    assertProtocolClose(h, /bad-version/);
  });

  it('fuzz: arbitrary bytes in arbitrary chunks never throw out of receive(); at most one protocol error', () => {
    const frameish = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.record({
        type: fc.integer({ min: 0, max: 4 }),
        flags: fc.integer({ min: 0, max: 16 }),
        id: fc.integer({ min: 0, max: 8 }),
        len: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff })),
      }).map(({ type, flags, id, len }) => {
        const h = Buffer.alloc(12);
        h[0] = 1;
        h[1] = type;
        h.writeUInt16BE(flags, 2);
        h.writeUInt32BE(id, 4);
        h.writeUInt32BE(len, 8);
        return type === 0 ? Buffer.concat([h, Buffer.alloc(Math.min(len, 40), 0x61)]) : h;
      }),
    );
    fc.assert(
      fc.property(fc.array(frameish, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 }), (parts, cuts) => {
        const h = harness();
        const bytes = Buffer.concat(parts);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          h.session.receive(bytes.subarray(prev, p));
          prev = p;
        }
        assert.ok(h.session.stats.protocolErrors <= 1);
        if (h.session.stats.protocolErrors === 1) {
          assert.equal(h.session.closed, true);
          assert.ok(isBurrowError(h.closeErr(), 'ERR_MUX_PROTOCOL'));
        }
        h.session.close();
        assert.equal(h.session.streamCount, 0);
      }),
      { numRuns: 400 },
    );
  });
});

describe('a protocol error in the frame that opens a stream', () => {
  it('closes the session without an error event on a stream the application never saw', async () => {
    const out: Uint8Array[] = [];
    const session = new MuxSession({ write: (b) => (out.push(b), true) }, { role: 'responder', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
    let streams = 0;
    session.on('stream', () => streams++);
    let closedWith: BurrowError | undefined;
    session.on('close', (e?: BurrowError) => (closedWith = e));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // SYN and a window grant past 2^32-1 in the same frame.
      session.receive(ctl(FrameType.WindowUpdate, Flag.SYN, 1, 0xffffffff));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    assert.equal(closedWith?.code, 'ERR_MUX_PROTOCOL');
    assert.equal(streams, 0);
    assert.deepEqual(uncaught, []);
  });
});

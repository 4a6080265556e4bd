import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DATA_HEADER_LENGTH,
  FrameDecoder,
  FrameType,
  MAX_FRAME_BODY,
  encodeAck,
  encodeData,
  encodeDataHeader,
  encodeDatagramHeader,
  type ResumeFrame,
} from '../../src/session/resume-frame.js';
import { isBurrowError } from '../../src/errors.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Every frame the decoder has now. */
function drain(d: FrameDecoder, limit = 10_000): ResumeFrame[] {
  const out: ResumeFrame[] = [];
  for (let f = d.next(); f !== null && out.length < limit; f = d.next()) {
    out.push(f);
    if (f.type === 'error') break;
  }
  return out;
}

function decodeAll(bytes: Buffer, opts: { maxBody?: number } = {}): ResumeFrame[] {
  const d = new FrameDecoder(opts);
  d.push(bytes);
  return drain(d);
}

function expectError(bytes: Buffer, pattern: RegExp, opts: { maxBody?: number } = {}): FrameDecoder {
  const d = new FrameDecoder(opts);
  d.push(bytes);
  const f = d.next();
  assert.equal(f?.type, 'error', `expected an error, got ${JSON.stringify(f)}`);
  assert.match(f.type === 'error' ? f.reason : '', pattern);
  return d;
}

describe('resume frames: encoding', () => {
  it('lays out DATA and ACK as the wire format says', () => {
    assert.equal(DATA_HEADER_LENGTH, 12);
    assert.equal(FrameType.Data, 1);
    assert.equal(FrameType.Ack, 2);
    assert.deepEqual(encodeData(0x0102_0304_0506, Buffer.from('hi')), hex('01 00000a 0000010203040506 6869'));
    assert.deepEqual(encodeAck(2 ** 53 - 1), hex('02 000008 001fffffffffffff'));
    assert.deepEqual(encodeDataHeader(7, 300), hex('01 000134 0000000000000007'));
  });

  it('header + bytes sent apart equal the whole frame', () => {
    const bytes = Buffer.from('some stream bytes');
    assert.deepEqual(Buffer.concat([encodeDataHeader(99, bytes.length), bytes]), encodeData(99, bytes));
  });

  it('refuses offsets and lengths the format cannot carry', () => {
    for (const bad of [-1, 2 ** 53, 1.5, Number.NaN]) {
      assert.throws(() => encodeAck(bad), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
      assert.throws(() => encodeDataHeader(bad, 1), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
    assert.throws(() => encodeDataHeader(0, 0xff_ffff - 7), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    assert.equal(encodeDataHeader(0, 0xff_ffff - 8).readUIntBE(1, 3), 0xff_ffff);
  });
});

describe('FrameDecoder', () => {
  it('decodes a DATAGRAM frame (an empty one too) split across chunks, between DATA and ACK frames', () => {
    assert.deepEqual(encodeDatagramHeader(2), hex('03 000002'));
    const wire = Buffer.concat([
      encodeData(1, Buffer.from('a')),
      encodeDatagramHeader(5),
      Buffer.from('hello'),
      encodeDatagramHeader(0),
      encodeAck(3),
    ]);
    const d = new FrameDecoder();
    for (let i = 0; i < wire.length; i += 3) d.push(wire.subarray(i, i + 3));
    assert.deepEqual(drain(d), [
      { type: 'data', offset: 1, bytes: Buffer.from('a') },
      { type: 'datagram', bytes: Buffer.from('hello') },
      { type: 'datagram', bytes: Buffer.alloc(0) },
      { type: 'ack', offset: 3 },
    ]);
    assert.throws(() => encodeDatagramHeader(0x100_0000), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    expectError(hex('03 ffffff'), /exceeds/);
  });

  it('decodes DATA and ACK, including an empty DATA and the largest offset', () => {
    const frames = decodeAll(
      Buffer.concat([encodeData(5, Buffer.from('abc')), encodeAck(8), encodeData(2 ** 53 - 1, Buffer.alloc(0))]),
    );
    assert.deepEqual(frames, [
      { type: 'data', offset: 5, bytes: Buffer.from('abc') },
      { type: 'ack', offset: 8 },
      { type: 'data', offset: 2 ** 53 - 1, bytes: Buffer.alloc(0) },
    ]);
  });

  it('waits for the rest of a frame', () => {
    const d = new FrameDecoder();
    const frame = encodeData(1, Buffer.from('hello'));
    d.push(frame.subarray(0, 3));
    assert.equal(d.next(), null);
    d.push(frame.subarray(3, 14));
    assert.equal(d.next(), null);
    assert.equal(d.pendingBytes, 14);
    d.push(frame.subarray(14));
    assert.deepEqual(d.next(), { type: 'data', offset: 1, bytes: Buffer.from('hello') });
    assert.equal(d.next(), null);
    assert.equal(d.pendingBytes, 0);
  });

  it('hands out a subarray, no copy, when the frame sits in one chunk', () => {
    const wire = Buffer.concat([encodeAck(1), encodeData(3, Buffer.from('xyz'))]);
    const d = new FrameDecoder();
    d.push(wire);
    d.next();
    const f = d.next();
    assert.equal(f?.type, 'data');
    if (f?.type !== 'data') return;
    assert.equal(f.bytes.buffer, wire.buffer);
    assert.equal(f.bytes.byteOffset, wire.byteOffset + 12 + 12);
  });

  it('a header sent apart from its bytes still gives the bytes without a copy', () => {
    const bytes = Buffer.from('payload in its own chunk');
    const d = new FrameDecoder();
    d.push(encodeDataHeader(0, bytes.length));
    d.push(bytes);
    const f = d.next();
    assert.equal(f?.type === 'data' && f.bytes.buffer === bytes.buffer && f.bytes.equals(bytes), true);
  });

  it('any split of a frame sequence decodes to the same frames', () => {
    const frameArb = fc.oneof(
      fc.record({ type: fc.constant('ack' as const), offset: fc.maxSafeNat() }),
      fc.record({
        type: fc.constant('data' as const),
        offset: fc.maxSafeNat(),
        bytes: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      }),
    );
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => (f.type === 'ack' ? encodeAck(f.offset) : encodeData(f.offset, f.bytes))));
        const points = [...new Set(cuts.map((c) => (wire.length === 0 ? 0 : c % wire.length)))].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const got: ResumeFrame[] = [];
        let from = 0;
        for (const p of [...points, wire.length]) {
          d.push(wire.subarray(from, p));
          from = p;
          got.push(...drain(d));
          assert.ok(d.pendingBytes <= MAX_FRAME_BODY + 4);
        }
        assert.deepEqual(got, frames.map((f) => ({ ...f }))); // fc.record builds null-prototype objects
        assert.equal(d.pendingBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('tolerates a peer trickling one byte per chunk', () => {
    const frames = Array.from({ length: 200 }, (_, i) => encodeData(i * 10, Buffer.alloc(10, i)));
    const wire = Buffer.concat(frames);
    const d = new FrameDecoder();
    const got: ResumeFrame[] = [];
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1));
      got.push(...drain(d));
    }
    assert.equal(got.length, 200);
    assert.deepEqual(got[199], { type: 'data', offset: 1990, bytes: Buffer.alloc(10, 199) });
  });

  describe('malformed input: error, and the decoder stays in error', () => {
    it('unknown type', () => {
      expectError(hex('00 000008 0000000000000000'), /unknown frame type 0/);
      expectError(hex('04 000008 0000000000000000'), /unknown frame type 4/);
    });

    it('ACK whose length is not 8', () => {
      expectError(hex('02 000007 00000000000000'), /ACK body of 7/);
      expectError(hex('02 000009 000000000000000000'), /ACK body of 9/);
    });

    it('DATA shorter than its offset', () => {
      expectError(hex('01 000007 00000000000000'), /shorter than its offset/);
      expectError(hex('01 000000'), /shorter than its offset/);
    });

    it('offset of 2^53 or more', () => {
      expectError(hex('02 000008 0020000000000000'), /2\^53/);
      expectError(hex('01 000009 ffffffffffffffff 00'), /2\^53/);
    });

    it('body over maxBody, errored on the header alone', () => {
      const d = new FrameDecoder({ maxBody: 100 });
      d.push(encodeData(0, Buffer.alloc(92)));
      assert.equal(drain(d).length, 1); // 100 bytes of body: at the limit is fine
      d.push(hex('01 000065')); // 101
      const f = d.next();
      assert.equal(f?.type, 'error');
      assert.equal(d.pendingBytes, 0);
    });

    it('a huge declared length errors before its body is buffered', () => {
      const d = new FrameDecoder();
      d.push(hex('01 ffffff 00'));
      assert.equal(d.next()?.type, 'error');
      d.push(Buffer.alloc(64 * 1024));
      assert.equal(d.pendingBytes, 0);
      // Just over the default limit is refused too, not only the u24 maximum.
      const over = Buffer.alloc(4);
      over[0] = 1;
      over.writeUIntBE(MAX_FRAME_BODY + 1, 1, 3);
      expectError(over, /exceeds/);
    });

    it('stays in error: later valid frames are not decoded', () => {
      const d = expectError(hex('09 000008 0000000000000000'), /unknown/);
      d.push(encodeAck(1));
      assert.equal(d.next()?.type, 'error');
      assert.equal(d.next()?.type, 'error');
      assert.equal(d.pendingBytes, 0);
    });

    it('an error after good frames still gives the good frames first', () => {
      const frames = decodeAll(Buffer.concat([encodeAck(1), encodeData(1, Buffer.from('a')), hex('07 000000')]));
      assert.deepEqual(
        frames.map((f) => f.type),
        ['ack', 'data', 'error'],
      );
    });
  });

  it('rejects a maxBody the format cannot use', () => {
    for (const bad of [7, 0x100_0000, 1.5]) {
      assert.throws(() => new FrameDecoder({ maxBody: bad }), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
  });
});

import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Flag,
  FrameDecoder,
  FrameType,
  HEADER_LENGTH,
  encodeFrame,
  type Frame,
} from '../../src/mux/index.js';

const MAX = 16 * 1024;

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Plain-object view of a frame, so Buffer vs Uint8Array payloads compare equal. */
function plain(f: Frame): unknown {
  return f.type === FrameType.Data
    ? { type: f.type, flags: f.flags, streamId: f.streamId, payload: Buffer.from(f.payload).toString('hex') }
    : { type: f.type, flags: f.flags, streamId: f.streamId, value: f.value };
}

function decodeAll(bytes: Uint8Array, cuts: number[] = []): { frames: Frame[]; error: string | null } {
  const d = new FrameDecoder(MAX);
  const frames: Frame[] = [];
  let error: string | null = null;
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    const r = d.push(bytes.subarray(prev, p));
    frames.push(...r.frames);
    if (r.error) error = r.error.kind;
    prev = p;
  }
  return { frames, error };
}

describe('frame vectors (12-byte big-endian header)', () => {
  const vectors: { name: string; frame: Frame; wire: string }[] = [
    {
      name: 'DATA|SYN stream 1 "hi"',
      frame: { type: FrameType.Data, flags: Flag.SYN, streamId: 1, payload: Buffer.from('hi') },
      wire: '01 00 0001 00000001 00000002 6869',
    },
    {
      name: 'WINDOW_UPDATE|ACK stream 0x01020304 delta 0x00040000',
      frame: { type: FrameType.WindowUpdate, flags: Flag.ACK, streamId: 0x01020304, value: 0x40000 },
      wire: '01 01 0002 01020304 00040000',
    },
    {
      name: 'WINDOW_UPDATE|FIN|RST, high stream id',
      frame: { type: FrameType.WindowUpdate, flags: Flag.FIN | Flag.RST, streamId: 0xfffffffe, value: 2 },
      wire: '01 01 000c fffffffe 00000002',
    },
    {
      name: 'PING|SYN opaque 0xdeadbeef',
      frame: { type: FrameType.Ping, flags: Flag.SYN, streamId: 0, value: 0xdeadbeef },
      wire: '01 02 0001 00000000 deadbeef',
    },
    {
      name: 'GO_AWAY code 1',
      frame: { type: FrameType.GoAway, flags: 0, streamId: 0, value: 1 },
      wire: '01 03 0000 00000000 00000001',
    },
    {
      name: 'empty DATA|FIN',
      frame: { type: FrameType.Data, flags: Flag.FIN, streamId: 2, payload: new Uint8Array(0) },
      wire: '01 00 0004 00000002 00000000',
    },
  ];
  for (const v of vectors) {
    it(v.name, () => {
      assert.equal(encodeFrame(v.frame).toString('hex'), hex(v.wire).toString('hex'));
      const { frames, error } = decodeAll(hex(v.wire));
      assert.equal(error, null);
      assert.deepEqual(frames.map(plain), [plain(v.frame)]);
    });
  }

  it('refuses a bad version, an unknown type and unknown flag bits', () => {
    assert.equal(decodeAll(hex('02 00 0000 00000001 00000000')).error, 'bad-version');
    assert.equal(decodeAll(hex('01 04 0000 00000001 00000000')).error, 'unknown-type');
    assert.equal(decodeAll(hex('01 00 0010 00000001 00000000')).error, 'unknown-flags');
  });

  it('refuses a huge declared length at once, buffering nothing', () => {
    const d = new FrameDecoder(MAX);
    const r = d.push(hex('01 00 0000 00000001 ffffffff'));
    assert.equal(r.error?.kind, 'payload-too-large');
    assert.equal(d.bufferedBytes, 0);
    // Stays failed; further bytes are not even looked at.
    assert.equal(d.push(Buffer.alloc(100_000)).error?.kind, 'payload-too-large');
    assert.equal(d.bufferedBytes, 0);
  });

  it('a length of exactly the cap is fine, one more is not', () => {
    const ok = Buffer.concat([hex(`01 00 0000 00000001 ${MAX.toString(16).padStart(8, '0')}`), Buffer.alloc(MAX, 7)]);
    assert.equal(decodeAll(ok).error, null);
    assert.equal(decodeAll(hex(`01 00 0000 00000001 ${(MAX + 1).toString(16).padStart(8, '0')}`)).error, 'payload-too-large');
  });

  it('frames before a malformed header are still returned', () => {
    const good = encodeFrame({ type: FrameType.Ping, flags: Flag.SYN, streamId: 0, value: 9 });
    const { frames, error } = decodeAll(Buffer.concat([good, hex('07 00 0000 00000000 00000000')]));
    assert.equal(frames.length, 1);
    assert.equal(error, 'bad-version');
  });

  it('copies a small payload out of a big chunk, takes a view of a payload that fills its chunk', () => {
    const small = encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, payload: Buffer.from('abcdef') });
    const chunk = Buffer.concat([small, Buffer.alloc(1000)]); // frame + the start of something else
    const d = new FrameDecoder(MAX);
    const f = at(d.push(chunk.subarray(0, small.length)).frames, 0);
    chunk.fill(0);
    assert.ok(f.type === FrameType.Data && Buffer.from(f.payload).toString() === 'abcdef');

    const bigWire = encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, payload: Buffer.alloc(8000, 1) });
    const g = at(new FrameDecoder(MAX).push(bigWire).frames, 0);
    assert.ok(g.type === FrameType.Data && g.payload.buffer === bigWire.buffer, 'zero copy');
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const flagsArb = fc.integer({ min: 0, max: 15 });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.Data),
    flags: flagsArb,
    streamId: u32,
    payload: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    type: fc.constantFrom(FrameType.WindowUpdate, FrameType.Ping, FrameType.GoAway),
    flags: flagsArb,
    streamId: u32,
    value: u32,
  }),
);

describe('frame codec properties (fast-check)', () => {
  it('decode(encode(frames)) = frames, for any chunk split', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map(encodeFrame));
        const out = decodeAll(wire, cuts);
        assert.equal(out.error, null);
        assert.deepEqual(out.frames.map(plain), frames.map(plain));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes in arbitrary chunks never throw; errors are typed and sticky; buffering stays bounded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 50 }), fc.integer({ min: 0, max: 64 }), (bytes, cuts, cap) => {
        const d = new FrameDecoder(cap);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        let prev = 0;
        let failedWith: string | null = null;
        for (const p of [...points, bytes.length]) {
          const r = d.push(bytes.subarray(prev, p));
          prev = p;
          if (failedWith !== null) {
            assert.equal(r.frames.length, 0);
            assert.equal(r.error?.kind, failedWith);
          } else if (r.error !== null) {
            assert.ok(['bad-version', 'unknown-type', 'unknown-flags', 'payload-too-large'].includes(r.error.kind));
            assert.equal(typeof r.error.message, 'string');
            failedWith = r.error.kind;
          }
          for (const f of r.frames) if (f.type === FrameType.Data) assert.ok(f.payload.byteLength <= cap);
          assert.ok(d.bufferedBytes <= HEADER_LENGTH + cap);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('mostly-valid streams with one corrupted byte never throw', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 10 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, where, byte, cuts) => {
        const wire = Buffer.concat(frames.map(encodeFrame));
        wire[where % wire.length] = byte;
        decodeAll(wire, cuts); // must not throw
      }),
      { numRuns: 500 },
    );
  });
});

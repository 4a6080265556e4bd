import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CONTROL_HEADER_LENGTH,
  CONTROL_VERSION,
  ControlFrameDecoder,
  MAX_CONTROL_FRAME,
  encodeControlFrame,
  isFrameError,
  type DecodedFrame,
  type FrameErrorCode,
} from '../../src/control/frame.js';

const ERROR_CODES: readonly FrameErrorCode[] = ['FRAME_TOO_LARGE', 'FRAME_EMPTY', 'BAD_VERSION', 'BAD_JSON'];

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Splits `bytes` at the given cut points (taken modulo length + 1, deduplicated). */
function split(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const b = Buffer.from(bytes);
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  out.push(b.subarray(prev));
  return out;
}

function pushAll(d: ControlFrameDecoder, chunks: readonly Uint8Array[]): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (const c of chunks) out.push(...d.push(c));
  return out;
}

/** What JSON.parse gives back for a message (normalises -0, drops undefined, etc.). */
function viaJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

const jsonObject = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });

describe('encodeControlFrame: byte layout', () => {
  it('matches a hand-written vector: u32 BE length of version+body, version 1, JSON body', () => {
    // {"type":"ping","t":1} is 21 bytes of JSON -> length 22 = 0x16
    const frame = encodeControlFrame({ type: 'ping', t: 1 });
    const expected = Buffer.concat([hex('00000016 01'), Buffer.from('{"type":"ping","t":1}', 'utf8')]);
    assert.equal(frame.toString('hex'), expected.toString('hex'));
  });

  it('encodes the empty object as 00000003 01 7b 7d', () => {
    assert.equal(encodeControlFrame({}).toString('hex'), '00000003017b7d');
  });

  it('counts UTF-8 bytes, not UTF-16 code units, in the length', () => {
    const frame = encodeControlFrame({ s: 'é€😀' }); // 2 + 3 + 4 bytes of UTF-8
    const json = Buffer.from(JSON.stringify({ s: 'é€😀' }), 'utf8');
    assert.equal(json.length, '{"s":""}'.length + 9);
    assert.equal(frame.readUInt32BE(0), json.length + 1);
    assert.equal(frame.length, CONTROL_HEADER_LENGTH + 1 + json.length);
    assert.equal(frame[CONTROL_HEADER_LENGTH], CONTROL_VERSION);
  });

  it('accepts a body of exactly MAX_CONTROL_FRAME - 1 bytes and refuses one byte more', () => {
    const overhead = JSON.stringify({ p: '' }).length;
    const fits = { p: 'x'.repeat(MAX_CONTROL_FRAME - 1 - overhead) };
    const frame = encodeControlFrame(fits);
    assert.equal(frame.readUInt32BE(0), MAX_CONTROL_FRAME);
    const d = new ControlFrameDecoder();
    assert.deepEqual(d.push(frame), [{ body: fits }]);

    const tooBig = { p: 'x'.repeat(MAX_CONTROL_FRAME - overhead) };
    assert.throws(() => encodeControlFrame(tooBig), RangeError);
  });
});

describe('ControlFrameDecoder: hand-written inputs', () => {
  it('decodes a hand-written frame', () => {
    const d = new ControlFrameDecoder();
    const frames = d.push(Buffer.concat([hex('0000000c 01'), Buffer.from('{"a":[1,2]}', 'utf8')]));
    assert.deepEqual(frames, [{ body: { a: [1, 2] } }]);
    assert.equal(d.pendingBytes, 0);
  });

  it('decodes two frames in one chunk, and a frame fed one byte at a time', () => {
    const two = Buffer.concat([encodeControlFrame({ n: 1 }), encodeControlFrame({ n: 2 })]);
    assert.deepEqual(new ControlFrameDecoder().push(two), [{ body: { n: 1 } }, { body: { n: 2 } }]);

    const d = new ControlFrameDecoder();
    const bytes = encodeControlFrame({ hello: 'world' });
    for (let i = 0; i < bytes.length - 1; i++) {
      assert.deepEqual(d.push(bytes.subarray(i, i + 1)), [], `no frame after ${i + 1} bytes`);
      assert.equal(d.pendingBytes, i + 1);
    }
    assert.deepEqual(d.push(bytes.subarray(bytes.length - 1)), [{ body: { hello: 'world' } }]);
    assert.equal(d.pendingBytes, 0);
  });

  it('honours byteOffset of a Uint8Array view into a larger buffer', () => {
    const frame = encodeControlFrame({ v: 'view' });
    const backing = new Uint8Array(frame.length + 10).fill(0xee);
    backing.set(frame, 5);
    const view = new Uint8Array(backing.buffer, 5, frame.length);
    assert.deepEqual(new ControlFrameDecoder().push(view), [{ body: { v: 'view' } }]);
  });

  it('a zero length is FRAME_EMPTY', () => {
    const d = new ControlFrameDecoder();
    const [f, ...rest] = d.push(hex('00000000'));
    assert.equal(rest.length, 0);
    assert.ok(f && isFrameError(f));
    assert.equal(f.error, 'FRAME_EMPTY');
    assert.equal(typeof f.detail, 'string');
  });

  for (const version of [0, 2, 0x7b, 255]) {
    it(`version byte ${version} is BAD_VERSION`, () => {
      const good = encodeControlFrame({ x: 1 });
      good[CONTROL_HEADER_LENGTH] = version;
      const frames = new ControlFrameDecoder().push(good);
      assert.equal(frames.length, 1);
      assert.ok(isFrameError(frames[0]!));
      assert.equal((frames[0] as { error: string }).error, 'BAD_VERSION');
    });
  }

  for (const [label, body] of [
    ['truncated JSON', '{"a":'],
    ['bare word', 'hello'],
    ['empty body', ''],
    ['trailing garbage', '{}x'],
  ] as const) {
    it(`non-JSON body (${label}) is BAD_JSON`, () => {
      const json = Buffer.from(body, 'utf8');
      const bytes = Buffer.concat([Buffer.alloc(4), Buffer.from([CONTROL_VERSION]), json]);
      bytes.writeUInt32BE(json.length + 1, 0);
      const frames = new ControlFrameDecoder().push(bytes);
      assert.equal(frames.length, 1);
      assert.ok(isFrameError(frames[0]!));
      assert.equal((frames[0] as { error: string }).error, 'BAD_JSON');
    });
  }

  it('non-object JSON bodies are still frames (schema checks come later)', () => {
    const bytes = Buffer.concat([hex('00000003 01'), Buffer.from('42')]);
    assert.deepEqual(new ControlFrameDecoder().push(bytes), [{ body: 42 }]);
  });

  it('returns frames that precede an error in the same chunk, then the error', () => {
    const bytes = Buffer.concat([encodeControlFrame({ ok: 1 }), hex('00000000'), encodeControlFrame({ ok: 2 })]);
    const frames = new ControlFrameDecoder().push(bytes);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0], { body: { ok: 1 } });
    assert.ok(isFrameError(frames[1]!));
  });
});

describe('ControlFrameDecoder: the size cap is enforced on the header alone', () => {
  it('refuses a header announcing MAX+1 bytes before any body arrives, and buffers nothing', () => {
    const d = new ControlFrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_CONTROL_FRAME + 1, 0);
    const frames = d.push(header);
    assert.equal(frames.length, 1);
    assert.ok(isFrameError(frames[0]!));
    assert.equal((frames[0] as { error: string }).error, 'FRAME_TOO_LARGE');
    assert.equal(d.pendingBytes, 0);
    // The body that follows is not buffered either.
    d.push(Buffer.alloc(64 * 1024));
    assert.equal(d.pendingBytes, 0);
  });

  it('waits (does not refuse) for a header announcing exactly MAX bytes', () => {
    const d = new ControlFrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_CONTROL_FRAME, 0);
    assert.deepEqual(d.push(header), []);
    assert.equal(d.pendingBytes, 4);
  });

  it('property: any announced length above the cap is refused as soon as the 4th header byte arrives', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_CONTROL_FRAME + 1, max: 0xffffffff }), fc.integer({ min: 1, max: 3 }), (len, cut) => {
        const d = new ControlFrameDecoder();
        const header = Buffer.alloc(4);
        header.writeUInt32BE(len, 0);
        assert.deepEqual(d.push(header.subarray(0, cut)), []);
        assert.equal(d.pendingBytes, cut);
        const frames = d.push(header.subarray(cut));
        assert.equal(frames.length, 1);
        assert.equal((frames[0] as { error?: string }).error, 'FRAME_TOO_LARGE');
        assert.equal(d.pendingBytes, 0);
      }),
    );
  });

  it('a decoder built with a smaller cap uses it', () => {
    const d = new ControlFrameDecoder(10);
    const frames = d.push(encodeControlFrame({ abcdefgh: 1 }));
    assert.equal((frames[0] as { error?: string }).error, 'FRAME_TOO_LARGE');
    assert.deepEqual(new ControlFrameDecoder(10).push(encodeControlFrame({ a: 1 })), [{ body: { a: 1 } }]);
  });
});

describe('ControlFrameDecoder: a failed decoder stays failed', () => {
  for (const [label, bad, code] of [
    ['FRAME_EMPTY', hex('00000000'), 'FRAME_EMPTY'],
    ['BAD_VERSION', hex('00000003 02 7b7d'), 'BAD_VERSION'],
    ['BAD_JSON', hex('00000002 01 7b'), 'BAD_JSON'],
    ['FRAME_TOO_LARGE', hex('7fffffff'), 'FRAME_TOO_LARGE'],
  ] as const) {
    it(`after ${label}, valid frames are not decoded and the same error is reported`, () => {
      const d = new ControlFrameDecoder();
      const first = d.push(bad);
      assert.equal((first[0] as { error?: string }).error, code);
      const again = d.push(encodeControlFrame({ type: 'ping', t: 1 }));
      assert.equal(again.length, 1);
      assert.equal((again[0] as { error?: string }).error, code);
      assert.equal(d.pendingBytes, 0);
      const n = d.next();
      assert.ok(n !== null && isFrameError(n));
      assert.equal(n.error, code);
      assert.equal(d.takeRest().length, 0);
    });
  }
});

describe('ControlFrameDecoder: properties', () => {
  it('decode(encode(msgs)) over arbitrary chunk splits gives back the messages in order', () => {
    fc.assert(
      fc.property(fc.array(jsonObject, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map((m) => encodeControlFrame(m)));
        const d = new ControlFrameDecoder();
        const frames = pushAll(d, split(bytes, cuts));
        assert.deepEqual(frames, msgs.map((m) => ({ body: viaJson(m) })));
        assert.equal(d.pendingBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes in arbitrary splits never throw and yield only frames or one typed error, last', () => {
    // Half the inputs start with a small plausible length, so bodies are reached too.
    const plausible = fc
      .tuple(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 1, 1, 1, 2), fc.uint8Array({ maxLength: 80 }))
      .map(([len, version, rest]) => {
        const b = Buffer.alloc(5 + rest.length);
        b.writeUInt32BE(len, 0);
        b[4] = version;
        b.set(rest, 5);
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), plausible), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const d = new ControlFrameDecoder();
        let frames: DecodedFrame[] = [];
        assert.doesNotThrow(() => {
          frames = pushAll(d, split(bytes, cuts));
        });
        const errIndex = frames.findIndex(isFrameError);
        for (const [i, f] of frames.entries()) {
          if (isFrameError(f)) {
            assert.ok(ERROR_CODES.includes(f.error), `unknown code ${f.error}`);
            assert.equal(typeof f.detail, 'string');
          } else {
            assert.ok('body' in f);
            assert.ok(errIndex === -1 || i < errIndex, 'no frame after an error');
          }
        }
        // Every push after the first error repeats that one error.
        if (errIndex !== -1) {
          for (let i = errIndex; i < frames.length; i++) assert.deepEqual(frames[i], frames[errIndex]);
          assert.equal(d.pendingBytes, 0);
        } else {
          assert.ok(d.pendingBytes <= CONTROL_HEADER_LENGTH + MAX_CONTROL_FRAME);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('next() yields one frame at a time and takeRest() returns exactly the bytes after the last consumed frame', () => {
    fc.assert(
      fc.property(
        fc.array(jsonObject, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (msgs, m, tail, cuts) => {
          const consume = m % (msgs.length + 1);
          const encoded = msgs.map((x) => encodeControlFrame(x));
          const bytes = Buffer.concat([...encoded, tail]);
          const d = new ControlFrameDecoder();
          for (const c of split(bytes, cuts)) d.append(c);
          assert.equal(d.pendingBytes, bytes.length);
          for (let i = 0; i < consume; i++) assert.deepEqual(d.next(), { body: viaJson(msgs[i]) });
          const expectedRest = Buffer.concat([...encoded.slice(consume), tail]);
          assert.equal(d.pendingBytes, expectedRest.length);
          const rest = d.takeRest();
          assert.equal(rest.toString('hex'), expectedRest.toString('hex'));
          assert.equal(d.pendingBytes, 0);
          assert.equal(d.next(), null);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takeRest() after a partial frame returns the partial bytes, and the decoder starts clean', () => {
    const d = new ControlFrameDecoder();
    const f1 = encodeControlFrame({ a: 1 });
    const f2 = encodeControlFrame({ b: 2 });
    const partial = f2.subarray(0, 7);
    assert.deepEqual(d.push(Buffer.concat([f1, partial])), [{ body: { a: 1 } }]);
    assert.equal(d.takeRest().toString('hex'), partial.toString('hex'));
    assert.deepEqual(d.push(f2), [{ body: { b: 2 } }]);
  });

  it('takeRest() returns a copy that later pushes do not disturb', () => {
    const d = new ControlFrameDecoder();
    const chunk = Buffer.concat([encodeControlFrame({ a: 1 }), Buffer.from('raw-bytes')]);
    d.append(chunk);
    assert.deepEqual(d.next(), { body: { a: 1 } });
    const rest = d.takeRest();
    chunk.fill(0);
    assert.equal(rest.toString(), 'raw-bytes');
  });
});

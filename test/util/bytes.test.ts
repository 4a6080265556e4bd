import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBurrowError } from '../../src/errors.js';
import { at } from '../../src/util/at.js';
import { readU16BE, readU16LE, readU32BE, readU32LE, u8, writeU32LE } from '../../src/util/bytes.js';

const internal = (err: unknown): boolean => isBurrowError(err, 'ERR_INTERNAL');

describe('byte readers', () => {
  it('read what Buffer reads, at every offset, on plain Uint8Arrays and on views', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), fc.nat(), (bytes, skip) => {
        const start = skip % bytes.length;
        const view = bytes.subarray(start);
        const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
        for (let o = 0; o < view.length; o++) assert.equal(u8(view, o), buf.readUInt8(o));
        for (let o = 0; o + 2 <= view.length; o++) {
          assert.equal(readU16BE(view, o), buf.readUInt16BE(o));
          assert.equal(readU16LE(view, o), buf.readUInt16LE(o));
        }
        for (let o = 0; o + 4 <= view.length; o++) {
          assert.equal(readU32BE(view, o), buf.readUInt32BE(o));
          assert.equal(readU32LE(view, o), buf.readUInt32LE(o));
        }
      }),
    );
  });

  it('give u32s >= 2^31 as positive numbers', () => {
    const b = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    assert.equal(readU32BE(b, 0), 0xffff_ffff);
    assert.equal(readU32LE(b, 0), 0xffff_ffff);
  });

  it('throw ERR_INTERNAL for a read past the end, instead of reading undefined as 0', () => {
    const b = Uint8Array.of(1, 2, 3, 4);
    assert.throws(() => u8(b, 4), internal);
    assert.throws(() => u8(b, -1), internal);
    assert.throws(() => readU16BE(b, 3), internal);
    assert.throws(() => readU16LE(b, 3), internal);
    assert.throws(() => readU32BE(b, 1), internal);
    assert.throws(() => readU32LE(b, 1), internal);
    assert.throws(() => readU32LE(b.subarray(1), 0), internal, 'a view ends where it ends, not where its buffer does');
  });

  it('writeU32LE round-trips through readU32LE', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (v) => {
        const b = new Uint8Array(6);
        writeU32LE(b, 1, v);
        assert.equal(readU32LE(b, 1), v);
        assert.equal(Buffer.from(b).readUInt32LE(1), v);
      }),
    );
  });
});

describe('at', () => {
  it('returns the element at a valid index, including falsy ones', () => {
    const items = [0, '', null, false] as const;
    for (let i = 0; i < items.length; i++) assert.equal(at(items, i), items[i]);
  });

  it('throws ERR_INTERNAL out of range, or for a hole', () => {
    assert.throws(() => at([1, 2], 2), internal);
    assert.throws(() => at([1, 2], -1), internal);
    assert.throws(() => at(new Array<number>(3), 1), internal);
    assert.throws(() => at('', 0), internal);
  });
});

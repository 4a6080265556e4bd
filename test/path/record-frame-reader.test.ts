import { splitAt } from '../support/poll.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { at } from '../../src/util/at.js';
import { RECORD_FRAME_HEADER, RecordFrameReader, recordFrameHeader } from '../../src/path/record-frame-reader.js';

function frame(record: Uint8Array): Buffer {
  return Buffer.concat([recordFrameHeader(record.length), record]);
}

function recordOf(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

function drain(reader: RecordFrameReader): Buffer[] {
  const out: Buffer[] = [];
  for (let r = reader.next(); r !== null; r = reader.next()) out.push(Buffer.from(r));
  return out;
}


describe('RecordFrameReader', () => {
  it('frames a record as a u32 big-endian length and the bytes', () => {
    assert.equal(RECORD_FRAME_HEADER, 4);
    assert.equal(frame(Buffer.from('abc')).toString('hex'), '00000003' + '616263');
    assert.equal(recordFrameHeader(0x0104_0040).toString('hex'), '01040040');
  });

  it('property: any split of a stream of records (empty chunks too) yields the same records, none early', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.nat(),
        (sizes, cuts, seed) => {
          const records = sizes.map((n, i) => recordOf(n, seed + i));
          const stream = Buffer.concat(records.map(frame));
          const reader = new RecordFrameReader(3000);
          const got: Buffer[] = [];
          let fed = 0;
          for (const piece of splitAt(stream, cuts)) {
            reader.push(piece);
            fed += piece.length;
            got.push(...drain(reader));
            // Only records whose last byte has been fed can have come out.
            const complete = records.reduce((acc, r, i) => {
              const end = records.slice(0, i + 1).reduce((s, x) => s + RECORD_FRAME_HEADER + x.length, 0);
              return end <= fed ? acc + 1 : acc;
            }, 0);
            assert.equal(got.length, complete);
            assert.equal(reader.pendingBytes, fed - got.reduce((s, r) => s + RECORD_FRAME_HEADER + r.length, 0));
          }
          assert.equal(got.length, records.length);
          for (const [i, r] of records.entries()) assert.ok(at(got, i).equals(r), `record ${i}`);
          assert.equal(reader.corrupt, false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reassembles a largest record fed one byte at a time in linear time', { timeout: 20_000 }, () => {
    // Concatenating all pieces on every chunk would copy ~34 GB here; collecting and copying once is instant.
    const maxRecord = 256 * 1024 + 64;
    const records = [recordOf(maxRecord, 1), recordOf(5, 2), recordOf(maxRecord, 3)];
    const stream = Buffer.concat(records.map(frame));
    const reader = new RecordFrameReader(maxRecord);
    const got: Buffer[] = [];
    const started = Date.now();
    for (let i = 0; i < stream.length; i++) {
      reader.push(stream.subarray(i, i + 1));
      const r = reader.next();
      if (r !== null) got.push(r);
    }
    assert.equal(got.length, 3);
    for (const [i, r] of records.entries()) assert.ok(at(got, i).equals(r), `record ${i}`);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('returns a record that lies inside one chunk as a view of it, without copying', () => {
    const chunk = Buffer.concat([frame(recordOf(10, 1)), frame(recordOf(20, 2))]);
    const reader = new RecordFrameReader(100);
    reader.push(chunk);
    const first = reader.next();
    assert.ok(first !== null && first.buffer === chunk.buffer && first.byteOffset === chunk.byteOffset + 4);
  });

  it('accepts a length of exactly maxRecord; 0 or maxRecord + 1 make it corrupt, after the records before them', () => {
    for (const bad of [0, 101, 0xffff_ffff]) {
      const reader = new RecordFrameReader(100);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(bad, 0);
      reader.push(Buffer.concat([frame(recordOf(100, 1)), frame(recordOf(1, 2)), header, frame(recordOf(3, 3))]));
      assert.equal(reader.next()?.length, 100);
      assert.equal(reader.next()?.length, 1);
      assert.equal(reader.next(), null);
      assert.equal(reader.corrupt, true);
      assert.equal(reader.corruptLength, bad);
      assert.equal(reader.pendingBytes, 0, 'holds nothing once corrupt');
      reader.push(frame(recordOf(3, 4)));
      assert.equal(reader.next(), null, 'and takes nothing more');
    }
  });

  it('finds a corrupt length split across chunks', () => {
    const reader = new RecordFrameReader(100);
    reader.push(Buffer.from([0, 0]));
    assert.equal(reader.next(), null);
    assert.equal(reader.corrupt, false);
    reader.push(Buffer.from([0]));
    reader.push(Buffer.from([0]));
    assert.equal(reader.next(), null);
    assert.equal(reader.corrupt, true);
  });

  it('clear() drops a half-read record', () => {
    const reader = new RecordFrameReader(100);
    reader.push(frame(recordOf(50, 1)).subarray(0, 30));
    assert.equal(reader.next(), null);
    assert.equal(reader.pendingBytes, 30);
    reader.clear();
    assert.equal(reader.pendingBytes, 0);
    reader.push(frame(recordOf(7, 2)));
    assert.ok(reader.next()?.equals(recordOf(7, 2)));
  });
});

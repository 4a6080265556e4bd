import assert from 'node:assert/strict';
import { createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AEAD_ALGORITHMS, DEFAULT_AEAD, type AeadAlgorithm } from '../../src/crypto/aead.js';
import {
  MAX_COUNTER,
  PacketOpener,
  PacketSealer,
  RECORD_OVERHEAD,
  RecordOpener,
  RecordSealer,
  deriveRecordKeys,
  deriveSessionKeys,
  type RecordOpenerStats,
  type SessionKeys,
} from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';
import { DEFAULT_MAX_RECORD } from '../../src/path/record-link.js';
import { at } from '../../src/util/at.js';
import { PacketKind } from '../../src/wire/packet-kind.js';
import { key } from './helpers.js';

function refused(s: Readonly<RecordOpenerStats>): number {
  return s.truncated + s.wrongKind + s.outOfOrder + s.authFailed;
}

class JumpingRecordSealer extends RecordSealer {
  jumpTo(counter: number): this {
    this.next = counter;
    return this;
  }
}

/** RFC 5869 HKDF-SHA256 for one 32-byte block, written out with plain HMAC. */
function hkdf32(ikm: Uint8Array, salt: string, info: string): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from(info), Buffer.from([1])])).digest();
}

for (const aead of AEAD_ALGORITHMS) {
  const opts = { aead };
  describe(`RecordSealer / RecordOpener (${aead})`, () => {
    it('round-trips records of many sizes up to a link\'s largest, adding RECORD_OVERHEAD bytes', () => {
      const k = key();
      const sealer = new RecordSealer(k, opts);
      const opener = new RecordOpener(k, opts);
      const largest = DEFAULT_MAX_RECORD - RECORD_OVERHEAD;
      const sizes = [0, 1, 15, 16, 17, 1350, 16 * 1024, 65535, 65536, 65537, 200_000, largest];
      for (const [i, size] of sizes.entries()) {
        const pt = randomBytes(size);
        const record = sealer.seal(pt);
        assert.equal(record.length, size + RECORD_OVERHEAD);
        assert.equal(record[0], PacketKind.Record);
        assert.equal(record.readBigUInt64BE(1), BigInt(i));
        assert.deepEqual(opener.open(record), pt);
      }
      assert.equal(RECORD_OVERHEAD, 25);
      assert.equal(sealer.counter, sizes.length);
      assert.equal(opener.counter, sizes.length);
      assert.equal(opener.stats.accepted, sizes.length);
      assert.equal(refused(opener.stats), 0);
    });

    it('lays a record out like a session packet: a plain decipher opens it with nonce 0^4 || counter and the header as AAD', () => {
      const k = key();
      const sealer = new JumpingRecordSealer(k, opts).jumpTo(0x0102_0304_0506);
      const pt = Buffer.from('a record over the relay');
      const record = sealer.seal(pt);
      assert.equal(record.subarray(0, 9).toString('hex'), 'b3' + '000001020304' + '0506');
      const nonce = Buffer.from('000000000000010203040506', 'hex');
      const decipher = createDecipheriv(aead as 'aes-256-gcm', k, nonce, { authTagLength: 16 });
      decipher.setAAD(record.subarray(0, 9));
      decipher.setAuthTag(record.subarray(record.length - 16));
      const out = decipher.update(record.subarray(9, record.length - 16));
      decipher.final();
      assert.deepEqual(out, pt);
    });

    it('opens a Uint8Array view at an offset, and each sealed record is the caller\'s own buffer', () => {
      const k = key();
      const sealer = new RecordSealer(k, opts);
      const pt = new Uint8Array(100).subarray(7, 47);
      pt.set(randomBytes(40));
      const record = sealer.seal(pt);
      const bigger = new Uint8Array(record.length + 13);
      bigger.set(record, 5);
      assert.deepEqual(new Uint8Array(new RecordOpener(k, opts).open(new Uint8Array(bigger.buffer, 5, record.length)) ?? []), pt);
      // The caller owns each output: wiping one leaves the next intact.
      const again = sealer.seal(pt);
      const opener = new RecordOpener(k, opts);
      assert.notEqual(opener.open(record), null);
      record.fill(0);
      assert.deepEqual(new Uint8Array(opener.open(again) ?? []), pt);
    });

    it('refuses a record with any single byte changed, counting the reason; the counter does not move', () => {
      const k = key();
      const sealer = new RecordSealer(k, opts);
      const first = sealer.seal(randomBytes(64));
      const pt = randomBytes(64);
      const record = sealer.seal(pt);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: record.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, flip) => {
          const opener = new RecordOpener(k, opts);
          assert.notEqual(opener.open(first), null);
          const bad = Buffer.from(record);
          bad[pos] = at(bad, pos) ^ flip;
          assert.equal(opener.open(bad), null);
          assert.equal(refused(opener.stats), 1);
          if (pos === 0) assert.equal(opener.stats.wrongKind, 1);
          else if (pos <= 8) assert.equal(opener.stats.outOfOrder, 1);
          else assert.equal(opener.stats.authFailed, 1);
          assert.equal(opener.counter, 1);
          assert.deepEqual(opener.open(record), pt);
        }),
        { numRuns: 400 },
      );
    });

    it('refuses every truncation as truncated (< 25 bytes) or unauthentic', () => {
      const k = key();
      const record = new RecordSealer(k, opts).seal(randomBytes(100));
      const opener = new RecordOpener(k, opts);
      for (let len = 0; len <= 60; len++) assert.equal(opener.open(record.subarray(0, len)), null, `length ${len}`);
      assert.equal(opener.stats.truncated, 25);
      assert.equal(opener.stats.authFailed, 36);
      assert.equal(opener.open(record)?.length, 100);
    });

    it('accepts only the next counter: a replay, a reorder and a dropped record are refused as outOfOrder', () => {
      const k = key();
      const sealer = new RecordSealer(k, opts);
      const r = Array.from({ length: 5 }, (_, i) => sealer.seal(Buffer.from(`record ${i}`)));
      const opener = new RecordOpener(k, opts);
      assert.equal(opener.open(at(r, 1)), null, 'record 1 before record 0');
      assert.equal(opener.open(at(r, 0))?.toString(), 'record 0');
      assert.equal(opener.open(at(r, 0)), null, 'replay of 0');
      assert.equal(opener.open(Buffer.from(at(r, 0))), null, 'replay of a copy of 0');
      assert.equal(opener.open(at(r, 2)), null, 'record 1 dropped');
      assert.equal(opener.open(at(r, 1))?.toString(), 'record 1');
      assert.equal(opener.open(at(r, 2))?.toString(), 'record 2');
      assert.equal(opener.open(at(r, 4)), null);
      assert.equal(opener.stats.outOfOrder, 5);
      assert.equal(opener.stats.accepted, 3);
      assert.equal(opener.counter, 3);
    });

    it('property: any order other than 0, 1, 2, ... yields exactly the in-order prefix', () => {
      const k = key();
      const sealer = new RecordSealer(k, opts);
      const r = Array.from({ length: 12 }, (_, i) => sealer.seal(Buffer.from([i])));
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 30 }), (order) => {
          const opener = new RecordOpener(k, opts);
          let next = 0;
          for (const i of order) {
            const out = opener.open(at(r, i));
            if (i === next) {
              assert.deepEqual(out, Buffer.from([i]));
              next++;
            } else assert.equal(out, null);
          }
          assert.equal(opener.stats.accepted, next);
          assert.equal(opener.stats.outOfOrder, order.length - next);
        }),
        { numRuns: 300 },
      );
    });

    it('a forgery carrying the expected counter is refused and does not take its place', () => {
      const k = key();
      const real = new RecordSealer(k, opts).seal(Buffer.from('real'));
      const forged = Buffer.concat([Buffer.from([PacketKind.Record]), Buffer.alloc(8), randomBytes(40)]);
      const opener = new RecordOpener(k, opts);
      assert.equal(opener.open(forged), null);
      assert.equal(opener.stats.authFailed, 1);
      assert.equal(opener.open(real)?.toString(), 'real');
    });

    it('refuses counters far ahead, including 2^53 and above, without throwing', () => {
      const opener = new RecordOpener(key(), opts);
      for (const hi of [1, 0x1f_ffff, 0x20_0000, 0xffff_ffff]) {
        const forged = Buffer.concat([Buffer.from([PacketKind.Record]), Buffer.alloc(8), randomBytes(30)]);
        forged.writeUInt32BE(hi, 1);
        assert.equal(opener.open(forged), null);
      }
      assert.equal(opener.stats.outOfOrder, 4);
    });

    it('never yields data under the wrong key', () => {
      const sealer = new RecordSealer(key(), opts);
      const opener = new RecordOpener(key(), opts);
      for (let i = 0; i < 50; i++) assert.equal(opener.open(sealer.seal(randomBytes(i * 1000))), null);
      assert.equal(opener.stats.authFailed, 1, 'record 0 fails its tag; the opener still waits for 0, so 1.. are out of order');
      assert.equal(opener.stats.outOfOrder, 49);
      assert.equal(opener.stats.accepted, 0);
    });

    it('refuses records of another kind: a session packet under the same key, and any other first byte', () => {
      const k = key();
      const opener = new RecordOpener(k, opts);
      assert.equal(opener.open(new PacketSealer(k).seal(Buffer.from('udp'))), null);
      const record = new RecordSealer(k, opts).seal(Buffer.from('hi'));
      for (const kind of [0x00, PacketKind.Session, PacketKind.Probe, 0xb4, 0xff]) {
        const q = Buffer.from(record);
        q[0] = kind;
        assert.equal(opener.open(q), null);
      }
      assert.equal(opener.stats.wrongKind, 6);
      assert.equal(opener.open(record)?.toString(), 'hi');
      // ...and a session opener does not take a record.
      const packets = new PacketOpener(k);
      assert.equal(packets.open(new RecordSealer(k, opts).seal(Buffer.from('x'))), null);
      assert.equal(packets.stats.wrongKind, 1);
    });

    it('never throws on arbitrary bytes', () => {
      const opener = new RecordOpener(key(), opts);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (bytes, asRecord) => {
          if (asRecord && bytes.length >= 9) {
            bytes[0] = PacketKind.Record;
            bytes.fill(0, 1, 9);
          }
          assert.equal(opener.open(bytes), null);
        }),
        { numRuns: 1000 },
      );
      assert.equal(opener.stats.accepted, 0);
    });

    it('seals up to counter 2^48 - 1, then throws ERR_CRYPTO_COUNTER_EXHAUSTED', () => {
      const sealer = new JumpingRecordSealer(key(), opts).jumpTo(MAX_COUNTER - 1);
      assert.equal(sealer.seal(Buffer.from('a')).readBigUInt64BE(1), 2n ** 48n - 1n);
      assert.throws(() => sealer.seal(Buffer.from('b')), (e: unknown) => isBurrowError(e, 'ERR_CRYPTO_COUNTER_EXHAUSTED'));
      assert.equal(sealer.counter, MAX_COUNTER);
    });
  });
}

describe('sealing a record from pieces', () => {
  for (const aead of AEAD_ALGORITHMS) {
    it(`gives exactly the record sealed from the joined bytes (${aead})`, () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 6 }), (pieces) => {
          const k = key();
          const parts = pieces.map((p) => Buffer.from(p));
          const fromParts = new RecordSealer(k, { aead }).seal(parts);
          const joined = new RecordSealer(k, { aead }).seal(Buffer.concat(parts));
          assert.deepEqual(fromParts, joined);
          assert.deepEqual(new RecordOpener(k, { aead }).open(fromParts), Buffer.concat(parts));
        }),
        { numRuns: 50 },
      );
    });
  }
});

describe('record AEAD choice', () => {
  it('defaults to DEFAULT_AEAD on both ends', () => {
    const k = key();
    assert.equal(new RecordSealer(k).aead, DEFAULT_AEAD);
    assert.equal(new RecordOpener(k).aead, DEFAULT_AEAD);
    const explicit = new RecordOpener(k, { aead: DEFAULT_AEAD });
    assert.equal(explicit.open(new RecordSealer(k).seal(Buffer.from('d')))?.toString(), 'd');
  });

  it('a record sealed with one AEAD does not open with the other (either way)', () => {
    const k = key();
    const pairs: Array<[AeadAlgorithm, AeadAlgorithm]> = [
      ['chacha20-poly1305', 'aes-256-gcm'],
      ['aes-256-gcm', 'chacha20-poly1305'],
    ];
    for (const [sealWith, openWith] of pairs) {
      const record = new RecordSealer(k, { aead: sealWith }).seal(randomBytes(1000));
      const wrong = new RecordOpener(k, { aead: openWith });
      assert.equal(wrong.open(record), null, `${sealWith} opened as ${openWith}`);
      assert.equal(wrong.stats.authFailed, 1);
      assert.notEqual(new RecordOpener(k, { aead: sealWith }).open(record), null);
    }
  });

  it('refuses an unknown AEAD and keys that are not 32 bytes', () => {
    const bad = { aead: 'aes-128-gcm' } as unknown as { aead: AeadAlgorithm };
    const isArg = (e: unknown): boolean => isBurrowError(e, 'ERR_INVALID_ARGUMENT');
    assert.throws(() => new RecordSealer(key(), bad), isArg);
    assert.throws(() => new RecordOpener(key(), bad), isArg);
    for (const n of [0, 16, 31, 33]) {
      const isKey = (e: unknown): boolean => isBurrowError(e, 'ERR_CRYPTO_KEY');
      assert.throws(() => new RecordSealer(new Uint8Array(n)), isKey);
      assert.throws(() => new RecordOpener(new Uint8Array(n)), isKey);
    }
  });
});

describe('deriveRecordKeys', () => {
  it('gives keys that differ from the packet keys and between directions', () => {
    const packet = deriveSessionKeys(key(), 'initiator');
    const record = deriveRecordKeys(packet);
    for (const k of [record.sendKey, record.recvKey]) {
      assert.equal(k.length, 32);
      assert.ok(!k.equals(packet.sendKey) && !k.equals(packet.recvKey));
    }
    assert.ok(!record.sendKey.equals(record.recvKey));
  });

  it('is HKDF-SHA256 of each direction key under the record label (checked against a hand-written HKDF)', () => {
    const packet = deriveSessionKeys(key(), 'responder');
    const record = deriveRecordKeys(packet);
    assert.deepEqual(record.sendKey, hkdf32(packet.sendKey, 'burrow record keys v1', 'burrow v1 relay records'));
    assert.deepEqual(record.recvKey, hkdf32(packet.recvKey, 'burrow record keys v1', 'burrow v1 relay records'));
    assert.deepEqual(deriveRecordKeys(packet), record, 'deterministic');
  });

  it("pairs up across the ends: the initiator's records open at the responder and the other way; a reflected record does not", () => {
    const secret = key();
    const i = deriveRecordKeys(deriveSessionKeys(secret, 'initiator', 'ctx'));
    const r = deriveRecordKeys(deriveSessionKeys(secret, 'responder', 'ctx'));
    for (const aead of AEAD_ALGORITHMS) {
      const toResponder = new RecordSealer(i.sendKey, { aead }).seal(Buffer.from('ping'));
      const toInitiator = new RecordSealer(r.sendKey, { aead }).seal(Buffer.from('pong'));
      assert.equal(new RecordOpener(r.recvKey, { aead }).open(toResponder)?.toString(), 'ping');
      assert.equal(new RecordOpener(i.recvKey, { aead }).open(toInitiator)?.toString(), 'pong');
      assert.equal(new RecordOpener(i.recvKey, { aead }).open(toResponder), null);
      assert.equal(new RecordOpener(r.recvKey, { aead }).open(toInitiator), null);
    }
  });

  it('records and session packets never share a key: a record sealed under the packet key does not open under the record key', () => {
    const keys = deriveSessionKeys(key(), 'initiator');
    const record = new RecordSealer(keys.sendKey).seal(Buffer.from('x'));
    const peer = deriveRecordKeys({ ...keys, sendKey: keys.recvKey, recvKey: keys.sendKey });
    const opener = new RecordOpener(peer.recvKey);
    assert.equal(opener.open(record), null);
    assert.equal(opener.stats.authFailed, 1);
  });

  it('keeps every other field of the keys object and leaves the input unchanged', () => {
    const base = deriveSessionKeys(key(), 'initiator');
    const before = { sendKey: Buffer.from(base.sendKey), recvKey: Buffer.from(base.recvKey) };
    const withAead: SessionKeys & { aead: AeadAlgorithm } = { ...base, aead: 'aes-256-gcm' };
    const out = deriveRecordKeys(withAead) as SessionKeys & { aead?: AeadAlgorithm };
    assert.equal(out.aead, 'aes-256-gcm');
    assert.deepEqual(base.sendKey, before.sendKey);
    assert.deepEqual(base.recvKey, before.recvKey);
    assert.notEqual(out, withAead);
  });

  it('refuses direction keys that are not 32 bytes with ERR_CRYPTO_KEY', () => {
    const good = key();
    for (const n of [0, 16, 33]) {
      const isKey = (e: unknown): boolean => isBurrowError(e, 'ERR_CRYPTO_KEY');
      assert.throws(() => deriveRecordKeys({ aead: DEFAULT_AEAD, sendKey: Buffer.alloc(n), recvKey: good }), isKey);
      assert.throws(() => deriveRecordKeys({ aead: DEFAULT_AEAD, sendKey: good, recvKey: Buffer.alloc(n) }), isKey);
    }
  });
});

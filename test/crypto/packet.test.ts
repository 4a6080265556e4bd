import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_REPLAY_WINDOW, MAX_COUNTER, PacketOpener, PacketSealer, SEALED_OVERHEAD, type OpenerStats } from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';
import { JumpingSealer, key } from './helpers.js';

function rejections(s: Readonly<OpenerStats>): number {
  return s.truncated + s.wrongKind + s.outOfRange + s.replayed + s.tooOld + s.authFailed;
}

describe('PacketSealer / PacketOpener', () => {
  it('round-trips plaintexts of any size, adding exactly SEALED_OVERHEAD bytes', () => {
    const k = key();
    const sealer = new PacketSealer(k);
    const opener = new PacketOpener(k);
    for (const size of [0, 1, 15, 16, 17, 64, 1375, 1400, 9000]) {
      const pt = randomBytes(size);
      const packet = sealer.seal(pt);
      assert.equal(packet.length, size + SEALED_OVERHEAD);
      assert.deepEqual(opener.open(packet), pt);
    }
    assert.equal(SEALED_OVERHEAD, 25);
    assert.equal(opener.stats.accepted, 9);
    assert.equal(rejections(opener.stats), 0);
  });

  it('numbers packets from 0 upwards', () => {
    const sealer = new PacketSealer(key());
    assert.equal(sealer.counter, 0);
    const first = sealer.seal(Buffer.from('a'));
    const second = sealer.seal(Buffer.from('b'));
    assert.equal(sealer.counter, 2);
    assert.equal(first.readBigUInt64BE(1), 0n);
    assert.equal(second.readBigUInt64BE(1), 1n);
  });

  it('seals from and opens Uint8Array views at an offset (not only Buffers)', () => {
    const k = key();
    const backing = new Uint8Array(100);
    const pt = backing.subarray(7, 47);
    pt.set(randomBytes(40));
    const packet = new PacketSealer(k).seal(pt);
    const bigger = new Uint8Array(packet.length + 13);
    bigger.set(packet, 5);
    const view = new Uint8Array(bigger.buffer, 5, packet.length);
    assert.deepEqual(new Uint8Array(new PacketOpener(k).open(view) ?? []), pt);
  });

  it('rejects a packet with any single byte changed, counting it', () => {
    const k = key();
    const pt = randomBytes(64);
    const packet = new PacketSealer(k).seal(pt);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: packet.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (pos, flip) => {
          const opener = new PacketOpener(k);
          const bad = Buffer.from(packet);
          bad[pos] = at(bad, pos) ^ flip;
          assert.equal(opener.open(bad), null);
          assert.equal(rejections(opener.stats), 1);
          assert.equal(opener.stats.accepted, 0);
          if (pos === 0) assert.equal(opener.stats.wrongKind, 1);
          else if (bad.readUInt32BE(1) >= 2 ** 21) assert.equal(opener.stats.outOfRange, 1);
          else assert.equal(opener.stats.authFailed, 1);
          // The untouched packet still opens afterwards: the forgery moved nothing.
          assert.deepEqual(opener.open(packet), pt);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects a flip of each bit of each byte: header, ciphertext and tag', () => {
    const k = key();
    const packet = new PacketSealer(k).seal(randomBytes(40));
    const opener = new PacketOpener(k);
    let tried = 0;
    for (let pos = 0; pos < packet.length; pos++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(packet);
        bad[pos] = at(bad, pos) ^ (1 << bit);
        assert.equal(opener.open(bad), null, `byte ${pos} bit ${bit}`);
        tried++;
      }
    }
    assert.equal(rejections(opener.stats), tried);
    assert.equal(opener.stats.accepted, 0);
  });

  it('rejects every truncation of a packet (lengths 0..40) as truncated or unauthentic', () => {
    const k = key();
    const packet = new PacketSealer(k).seal(randomBytes(100));
    const opener = new PacketOpener(k);
    for (let len = 0; len <= 40; len++) {
      assert.equal(opener.open(packet.subarray(0, len)), null, `length ${len}`);
    }
    assert.equal(opener.stats.truncated, 25); // 0..24
    assert.equal(opener.stats.authFailed, 16); // 25..40
    assert.equal(opener.stats.accepted, 0);
    assert.equal(opener.open(packet)?.length, 100);
  });

  it('rejects a replayed packet', () => {
    const k = key();
    const sealer = new PacketSealer(k);
    const opener = new PacketOpener(k);
    const p = sealer.seal(Buffer.from('once'));
    assert.equal(opener.open(p)?.toString(), 'once');
    assert.equal(opener.open(p), null);
    assert.equal(opener.open(Buffer.from(p)), null);
    assert.equal(opener.stats.replayed, 2);
    assert.equal(opener.stats.accepted, 1);
  });

  it('accepts reordered packets within the window exactly once each', () => {
    const k = key();
    const sealer = new PacketSealer(k);
    const packets = Array.from({ length: 200 }, (_, i) => sealer.seal(Buffer.from(`packet ${i}`)));
    fc.assert(
      fc.property(fc.shuffledSubarray(packets.map((_, i) => i), { minLength: 200 }), (order) => {
        const opener = new PacketOpener(k, { replayWindow: 256 });
        for (const i of order) assert.equal(opener.open(at(packets, i))?.toString(), `packet ${i}`);
        for (const i of order) assert.equal(opener.open(at(packets, i)), null);
        assert.equal(opener.stats.accepted, 200);
        assert.equal(opener.stats.replayed, 200);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects a packet older than the window, accepts one just inside it', () => {
    const k = key();
    const sealer = new PacketSealer(k);
    const packets = Array.from({ length: 200 }, () => sealer.seal(Buffer.from('x')));
    const opener = new PacketOpener(k, { replayWindow: 64 });
    assert.notEqual(opener.open(at(packets, 199)), null);
    assert.equal(opener.open(at(packets, 135)), null); // 64 behind
    assert.equal(opener.stats.tooOld, 1);
    assert.notEqual(opener.open(at(packets, 136)), null); // 63 behind
    assert.equal(opener.highestCounter, 199);
  });

  it('uses the sessions\' 4096-packet window by default', () => {
    assert.equal(DEFAULT_REPLAY_WINDOW, 4096);
    const k = key();
    const sealer = new PacketSealer(k);
    const packets = Array.from({ length: 5000 }, () => sealer.seal(Buffer.alloc(0)));
    const opener = new PacketOpener(k);
    assert.notEqual(opener.open(at(packets, 4999)), null);
    assert.notEqual(opener.open(at(packets, 4999 - 4095)), null);
    assert.equal(opener.open(at(packets, 4999 - 4096)), null);
    assert.equal(opener.stats.tooOld, 1);
  });

  it('does not let a forged huge-counter packet move the window', () => {
    const k = key();
    const sealer = new PacketSealer(k);
    const opener = new PacketOpener(k, { replayWindow: 64 });
    const legit = Array.from({ length: 10 }, (_, i) => sealer.seal(Buffer.from([i])));
    assert.notEqual(opener.open(at(legit, 0)), null);
    for (const counter of [2 ** 40, 2 ** 48 - 1, 2 ** 53 - 1, 1000]) {
      const forged = Buffer.concat([Buffer.from([0xb1]), Buffer.alloc(8), randomBytes(40)]);
      forged.writeUIntBE(Math.floor(counter / 2 ** 32), 1, 4);
      forged.writeUInt32BE(counter >>> 0, 5);
      assert.equal(opener.open(forged), null);
    }
    assert.equal(opener.stats.authFailed, 4);
    assert.equal(opener.highestCounter, 0);
    for (let i = 1; i < 10; i++) assert.deepEqual(opener.open(at(legit, i)), Buffer.from([i]));
  });

  it('rejects counters of 2^53 and above as out of range', () => {
    const k = key();
    const opener = new PacketOpener(k);
    const forged = Buffer.concat([Buffer.from([0xb1, 0x00, 0x20, 0, 0, 0, 0, 0, 0]), randomBytes(30)]);
    assert.equal(opener.open(forged), null);
    forged[1] = 0xff;
    assert.equal(opener.open(forged), null);
    assert.equal(opener.stats.outOfRange, 2);
  });

  it('never yields data under the wrong key', () => {
    const sealer = new PacketSealer(key());
    const opener = new PacketOpener(key());
    for (let i = 0; i < 100; i++) assert.equal(opener.open(sealer.seal(randomBytes(i * 13))), null);
    assert.equal(opener.stats.authFailed, 100);
    assert.equal(opener.stats.accepted, 0);
    assert.equal(opener.highestCounter, -1);
  });

  it('rejects packets that do not start with the session kind byte', () => {
    const k = key();
    const opener = new PacketOpener(k);
    const p = new PacketSealer(k).seal(Buffer.from('hi'));
    for (const kind of [0x00, 0x01, 0xb0, 0xb2, 0xff]) {
      const q = Buffer.from(p);
      q[0] = kind;
      assert.equal(opener.open(q), null);
    }
    assert.equal(opener.stats.wrongKind, 5);
  });

  it('never throws on arbitrary bytes', () => {
    const opener = new PacketOpener(key(), { replayWindow: 32 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), fc.boolean(), (bytes, asSession) => {
        if (asSession && bytes.length > 0) bytes[0] = 0xb1;
        assert.equal(opener.open(bytes), null);
      }),
      { numRuns: 2000 },
    );
    assert.equal(opener.stats.accepted, 0);
  });

  it('refuses keys that are not 32 bytes with ERR_CRYPTO_KEY', () => {
    for (const n of [0, 16, 31, 33]) {
      const isKeyError = (e: unknown): boolean => isBurrowError(e, 'ERR_CRYPTO_KEY');
      assert.throws(() => new PacketSealer(new Uint8Array(n)), isKeyError);
      assert.throws(() => new PacketOpener(new Uint8Array(n)), isKeyError);
    }
  });

  it('keeps working if the caller mutates the key buffer after construction', () => {
    const k = key();
    const copy = Buffer.from(k);
    const sealer = new PacketSealer(k);
    k.fill(0);
    assert.equal(new PacketOpener(copy).open(sealer.seal(Buffer.from('ok')))?.toString(), 'ok');
  });

  it('seals up to counter 2^48 - 1, then throws ERR_CRYPTO_COUNTER_EXHAUSTED', () => {
    const k = key();
    const sealer = new JumpingSealer(k).jumpTo(MAX_COUNTER - 2);
    const opener = new PacketOpener(k);
    const a = sealer.seal(Buffer.from('a'));
    const b = sealer.seal(Buffer.from('b'));
    assert.equal(b.readBigUInt64BE(1), 2n ** 48n - 1n);
    assert.equal(opener.open(a)?.toString(), 'a');
    assert.equal(opener.open(b)?.toString(), 'b');
    assert.equal(opener.highestCounter, 2 ** 48 - 1);
    assert.throws(() => sealer.seal(Buffer.from('c')), (e: unknown) => isBurrowError(e, 'ERR_CRYPTO_COUNTER_EXHAUSTED'));
    assert.throws(() => sealer.seal(Buffer.from('c')), (e: unknown) => isBurrowError(e, 'ERR_CRYPTO_COUNTER_EXHAUSTED'));
    assert.equal(sealer.counter, MAX_COUNTER);
  });
});

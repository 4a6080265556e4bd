import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { PROBE_LENGTH, ProbeType, decodeProbe, derivePunchKeys, encodeProbe, ProbeCodec } from '../../src/punch/index.js';

const key = randomBytes(32);
const ini = derivePunchKeys(key, 'initiator', 'c1');
const res = derivePunchKeys(key, 'responder', 'c1');

test('a probe made by one side opens on the other, with every field intact', () => {
  const nonce = randomBytes(8);
  const echo = randomBytes(8);
  const b = encodeProbe({ type: ProbeType.Ack, seq: 77, nonce, echo, endpoint: { address: '203.0.113.7', port: 4500 } }, ini.tag, ini.sendKey);
  assert.equal(b.length, PROBE_LENGTH);
  const r = decodeProbe(b, res.tag, res.recvKey);
  assert.ok(r.ok);
  assert.equal(r.packet.type, ProbeType.Ack);
  assert.equal(r.packet.seq, 77);
  assert.deepEqual(r.packet.nonce, nonce);
  assert.deepEqual(r.packet.echo, echo);
  assert.deepEqual(r.packet.endpoint, { address: '203.0.113.7', port: 4500 });
});

test('directions have separate keys: a side\'s own probe reflected back is refused', () => {
  const c = new ProbeCodec(ini, randomBytes);
  const { data } = c.make(ProbeType.Probe, null);
  assert.equal(c.open(data), null);
  assert.equal(c.drops['mac'], 1);
  assert.ok(new ProbeCodec(res, randomBytes).open(data));
});

test('another session (other context) or another key cannot make an acceptable probe', () => {
  const other = derivePunchKeys(key, 'initiator', 'c2');
  const b = encodeProbe({ type: ProbeType.Probe, seq: 1, nonce: randomBytes(8), echo: Buffer.alloc(0), endpoint: null }, other.tag, other.sendKey);
  assert.deepEqual(decodeProbe(b, res.tag, res.recvKey), { ok: false, reason: 'tag' });
  const wrong = derivePunchKeys(randomBytes(32), 'initiator', 'c1');
  const w = encodeProbe({ type: ProbeType.Probe, seq: 1, nonce: randomBytes(8), echo: Buffer.alloc(0), endpoint: null }, ini.tag, wrong.sendKey);
  assert.deepEqual(decodeProbe(w, res.tag, res.recvKey), { ok: false, reason: 'mac' });
});

test('every single-bit flip of a valid probe is refused', () => {
  const b = encodeProbe({ type: ProbeType.Probe, seq: 5, nonce: randomBytes(8), echo: Buffer.alloc(0), endpoint: { address: '10.0.0.1', port: 1 } }, ini.tag, ini.sendKey);
  for (let bit = 0; bit < b.length * 8; bit++) {
    const t = Buffer.from(b);
    t[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(decodeProbe(t, res.tag, res.recvKey).ok, false, `bit ${bit}`);
  }
});

test('arbitrary bytes never throw and never decode', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
      const r = decodeProbe(Buffer.from(bytes), res.tag, res.recvKey);
      return r.ok === false;
    }),
    { numRuns: 2000 },
  );
});

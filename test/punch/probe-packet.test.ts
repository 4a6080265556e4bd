import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { normaliseEndpoint, sameEndpoint } from '../../src/net/endpoint.js';
import { PROBE_LENGTH, ProbeType, PunchSession, decodeProbe, derivePunchKeys, encodeProbe, ProbeCodec } from '../../src/punch/index.js';

const key = randomBytes(32);
const ini = derivePunchKeys(key, 'initiator', 'c1');
const res = derivePunchKeys(key, 'responder', 'c1');
const ZERO8 = Buffer.alloc(8);

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

// A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; the rest of the
// world (STUN, candidates) knows it as a.b.c.d. Both must mean one endpoint.
const v4 = fc.ipV4();
const v6 = fc.ipV6();
const v4MappedDotted = fc.ipV4().map((a) => `::ffff:${a}`);
const v4MappedHex = fc.ipV4().map((a) => {
  const [w = 0, x = 0, y = 0, z = 0] = a.split('.').map(Number);
  return `::ffff:${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
});
const port = fc.integer({ min: 0, max: 65535 });

test('an endpoint in a probe round-trips: IPv4, IPv6 and IPv4-mapped (as the IPv4 address it stands for)', () => {
  fc.assert(
    fc.property(fc.oneof(v4, v6, v4MappedDotted, v4MappedHex), port, (address, p) => {
      const sent = { address, port: p };
      const b = encodeProbe({ type: ProbeType.Ack, seq: 1, nonce: randomBytes(8), echo: Buffer.alloc(0), endpoint: sent }, ini.tag, ini.sendKey);
      const r = decodeProbe(b, res.tag, res.recvKey);
      assert.ok(r.ok);
      assert.ok(r.packet.endpoint !== null);
      assert.deepEqual(r.packet.endpoint, normaliseEndpoint(sent));
      assert.ok(sameEndpoint(r.packet.endpoint, sent), `${address} came back as ${r.packet.endpoint.address}`);
    }),
    { numRuns: 1000 },
  );
});

test('an IPv4-mapped address goes on the wire exactly as its IPv4 form; IPv4 and IPv6 keep their layout', () => {
  const at = (address: string) =>
    encodeProbe({ type: ProbeType.Ack, seq: 1, nonce: ZERO8, echo: ZERO8, endpoint: { address, port: 4500 } }, ini.tag, ini.sendKey).subarray(30, 49);
  const plain = at('192.0.2.1');
  assert.deepEqual([...plain.subarray(0, 5)], [4, 192, 0, 2, 1]);
  assert.equal(plain.readUInt16BE(17), 4500);
  assert.deepEqual(at('::ffff:192.0.2.1'), plain);
  assert.deepEqual(at('::FFFF:c000:0201'), plain);
  const six = at('2001:db8::1');
  assert.equal(six[0], 6);
  assert.equal(six.subarray(1, 17).toString('hex'), '20010db8000000000000000000000001');
  const r = decodeProbe(encodeProbe({ type: ProbeType.Ack, seq: 1, nonce: ZERO8, echo: ZERO8, endpoint: { address: '::ffff:192.0.2.1', port: 4500 } }, ini.tag, ini.sendKey), res.tag, res.recvKey);
  assert.ok(r.ok);
  assert.deepEqual(r.packet.endpoint, { address: '192.0.2.1', port: 4500 });
});

test('the punch locks onto a candidate whose ack arrives from its IPv4-mapped form, and logs where the peer saw us', () => {
  const mine = new ProbeCodec(ini, randomBytes);
  const peer = new ProbeCodec(res, randomBytes);
  const punch = new PunchSession({ codec: mine, remote: [{ kind: 'srflx', address: '192.0.2.1', port: 4000 }], startAt: 0, random: randomBytes, primeTtl: 0 });
  punch.tick(0);
  const probe = punch.drain().find((t) => t.ttl === undefined);
  assert.ok(probe, 'a probe went out');
  assert.ok(sameEndpoint(probe.to, { address: '192.0.2.1', port: 4000 }));
  const opened = peer.open(probe.data);
  assert.ok(opened);
  // The answer comes in on a dual-stack socket, which reports the sender as ::ffff:192.0.2.1.
  const ack = mine.open(peer.make(ProbeType.Ack, { address: '198.51.100.9', port: 50001 }, opened.nonce).data);
  assert.ok(ack);
  punch.handle(ack, { address: '::ffff:192.0.2.1', port: 4000 }, 0, 12);
  assert.equal(punch.stats.acksUnmatched, 0);
  assert.equal(punch.state, 'locked');
  assert.match(punch.timeline.format(), /ack-received .*peer saw us at 198\.51\.100\.9:50001/);
});

test('sameEndpoint: IPv4-mapped equals IPv4, IPv6 text forms are one address, ports and hosts still tell apart', () => {
  assert.ok(sameEndpoint({ address: '::ffff:192.0.2.1', port: 1 }, { address: '192.0.2.1', port: 1 }));
  assert.ok(sameEndpoint({ address: '2001:DB8:0:0:0:0:0:1', port: 1 }, { address: '2001:db8::1', port: 1 }));
  assert.ok(!sameEndpoint({ address: '::ffff:192.0.2.1', port: 1 }, { address: '192.0.2.1', port: 2 }));
  assert.ok(!sameEndpoint({ address: '::ffff:192.0.2.1', port: 1 }, { address: '192.0.2.2', port: 1 }));
  // ::a.b.c.d (IPv4-compatible, deprecated) is an IPv6 address, not the IPv4 one.
  assert.ok(!sameEndpoint({ address: '::192.0.2.1', port: 1 }, { address: '192.0.2.1', port: 1 }));
  assert.ok(!sameEndpoint({ address: 'localhost', port: 1 }, { address: '127.0.0.1', port: 1 }));
  fc.assert(
    fc.property(fc.oneof(v4, v6, v4MappedDotted, v4MappedHex), fc.oneof(v4, v6, v4MappedDotted), port, (a, b, p) => {
      const x = { address: a, port: p };
      const y = { address: b, port: p };
      assert.equal(sameEndpoint(x, y), sameEndpoint(y, x));
      assert.ok(sameEndpoint(x, normaliseEndpoint(x)));
      assert.equal(sameEndpoint(x, y), normaliseEndpoint(x).address === normaliseEndpoint(y).address);
    }),
    { numRuns: 1000 },
  );
});

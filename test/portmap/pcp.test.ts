import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BurrowError, isBurrowError } from '../../src/errors.js';
import { decodePcpResponse, encodeAnnounceRequest, encodeMapRequest, pcpResponseMatches, pcpResultName } from '../../src/portmap/pcp.js';

const NONCE = Buffer.from('0102030405060708090a0b0c', 'hex');

/** A MAP response laid out by hand from RFC 6887 figures 2 and 10. */
function mapResponse(o: { result?: number; lifetime?: number; epoch?: number; nonce?: Buffer; internal?: number; external?: number; ip?: number[] } = {}): Buffer {
  const b = Buffer.alloc(60);
  b[0] = 2;
  b[1] = 0x81;
  b[3] = o.result ?? 0;
  b.writeUInt32BE(o.lifetime ?? 7200, 4);
  b.writeUInt32BE(o.epoch ?? 42, 8);
  (o.nonce ?? NONCE).copy(b, 24);
  b[36] = 17;
  b.writeUInt16BE(o.internal ?? 40000, 40);
  b.writeUInt16BE(o.external ?? 40001, 42);
  b[54] = 0xff;
  b[55] = 0xff;
  Buffer.from(o.ip ?? [11, 0, 0, 1]).copy(b, 56);
  return b;
}

test('a MAP request is a 24-byte header and a 36-byte body with the client as IPv4-mapped IPv6', () => {
  const b = encodeMapRequest({ nonce: NONCE, clientAddress: '192.168.77.2', internalPort: 40000, suggestedExternalPort: 40000, lifetimeSeconds: 7200 });
  assert.equal(b.length, 60);
  assert.equal(b[0], 2); // version
  assert.equal(b[1], 1); // R=0, opcode MAP
  assert.equal(b.readUInt32BE(4), 7200);
  assert.equal(b.subarray(8, 24).toString('hex'), '00000000000000000000ffffc0a84d02');
  assert.ok(b.subarray(24, 36).equals(NONCE));
  assert.equal(b[36], 17); // UDP
  assert.equal(b.readUInt16BE(40), 40000);
  assert.equal(b.readUInt16BE(42), 40000);
  assert.equal(b.subarray(44, 60).toString('hex'), '00000000000000000000ffff00000000'); // no address preference
});

test('ANNOUNCE is a bare 24-byte header; bad nonces, ports and addresses are refused', () => {
  const a = encodeAnnounceRequest('10.0.0.2');
  assert.equal(a.length, 24);
  assert.equal(a[1], 0);
  const base = { nonce: NONCE, clientAddress: '10.0.0.2', internalPort: 1, suggestedExternalPort: 0, lifetimeSeconds: 1 };
  for (const bad of [{ nonce: Buffer.alloc(11) }, { internalPort: 0 }, { suggestedExternalPort: 65536 }, { clientAddress: '10.0.0.256' }, { lifetimeSeconds: -1 }]) {
    assert.throws(() => encodeMapRequest({ ...base, ...bad }), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'), JSON.stringify(bad));
  }
});

test('decodes a MAP response: lifetime, epoch, assigned port and address, and matches it by nonce and port', () => {
  const r = decodePcpResponse(mapResponse());
  assert.equal(r.opcode, 'map');
  assert.equal(r.resultCode, 0);
  assert.equal(r.lifetimeSeconds, 7200);
  assert.equal(r.epoch, 42);
  assert.equal(r.map?.externalPort, 40001);
  assert.equal(r.map?.externalAddress, '11.0.0.1');
  assert.ok(pcpResponseMatches(r, NONCE, 40000));
  assert.ok(!pcpResponseMatches(r, Buffer.alloc(12, 9), 40000), 'another nonce must not match');
  assert.ok(!pcpResponseMatches(r, NONCE, 40002), 'another internal port must not match');
});

test('an ADDRESS_MISMATCH refusal keeps its result code and says a NAT is in between', () => {
  const r = decodePcpResponse(mapResponse({ result: 12, lifetime: 30 }));
  assert.equal(r.resultCode, 12);
  assert.match(pcpResultName(r.resultCode), /ADDRESS_MISMATCH.*behind a NAT/);
});

test('rejects short, unaligned, oversized, request-bit and unknown-opcode messages; a NAT-PMP-only answer is a refusal', () => {
  const good = mapResponse();
  const cases: Array<[Buffer, string]> = [
    [good.subarray(0, 20), 'ERR_PORTMAP_MALFORMED'],
    [Buffer.concat([good, Buffer.alloc(2)]), 'ERR_PORTMAP_MALFORMED'],
    [Buffer.concat([good, Buffer.alloc(1100)]), 'ERR_PORTMAP_MALFORMED'],
    [Buffer.from(good).fill(0x01, 1, 2), 'ERR_PORTMAP_MALFORMED'], // R bit clear
    [Buffer.from(good).fill(0x85, 1, 2), 'ERR_PORTMAP_MALFORMED'], // opcode 5
    [good.subarray(0, 24), 'ERR_PORTMAP_MALFORMED'], // success without body
    [mapResponse({ external: 0 }), 'ERR_PORTMAP_MALFORMED'],
    [Buffer.from([0, 129, 0, 1, 0, 0, 0, 0]), 'ERR_PORTMAP_REFUSED'],
  ];
  for (const [b, code] of cases) {
    assert.throws(() => decodePcpResponse(b), (e) => isBurrowError(e) && e.code === code, b.toString('hex'));
  }
});

test('fuzz: any bytes (and any mutation of a valid response) decode or fail with a BurrowError', () => {
  const good = mapResponse();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
      try {
        decodePcpResponse(bytes);
      } catch (e) {
        assert.ok(e instanceof BurrowError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(59), fc.nat(255)), { maxLength: 6 }), fc.nat(64), (edits, cut) => {
      const b = Buffer.from(good);
      for (const [i, v] of edits) b[i] = v;
      try {
        const r = decodePcpResponse(b.subarray(0, Math.max(0, 60 - cut)));
        assert.ok(r.opcode === 'map' || r.opcode === 'announce');
      } catch (e) {
        assert.ok(e instanceof BurrowError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

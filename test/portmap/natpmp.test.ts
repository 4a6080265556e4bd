import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BurrowError, isBurrowError } from '../../src/errors.js';
import { decodeNatPmpResponse, encodeExternalAddressRequest, encodeMapRequest, natPmpResultName } from '../../src/portmap/natpmp.js';

test('requests have RFC 6886 layouts: 2-byte address request, 12-byte UDP map request with lifetime in seconds', () => {
  assert.deepEqual([...encodeExternalAddressRequest()], [0, 0]);
  const map = encodeMapRequest({ internalPort: 40000, suggestedExternalPort: 40001, lifetimeSeconds: 7200 });
  // version 0, opcode 1 (UDP), reserved 0, internal 0x9c40, suggested 0x9c41, lifetime 7200 = 0x00001c20
  assert.deepEqual([...map], [0, 1, 0, 0, 0x9c, 0x40, 0x9c, 0x41, 0, 0, 0x1c, 0x20]);
});

test('a lifetime must be whole seconds: a value in milliseconds that overflows is refused, not truncated', () => {
  assert.throws(() => encodeMapRequest({ internalPort: 1, suggestedExternalPort: 0, lifetimeSeconds: 7200 * 1000 * 1000 }), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
  assert.throws(() => encodeMapRequest({ internalPort: 1, suggestedExternalPort: 0, lifetimeSeconds: 1.5 }), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
  assert.throws(() => encodeMapRequest({ internalPort: 0, suggestedExternalPort: 0, lifetimeSeconds: 60 }), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
});

test('decodes an external address response', () => {
  const b = Buffer.from([0, 128, 0, 0, 0, 0, 0x01, 0x00, 11, 0, 0, 1]);
  assert.deepEqual(decodeNatPmpResponse(b), { kind: 'external-address', resultCode: 0, epoch: 256, externalAddress: '11.0.0.1' });
});

test('decodes a map response, and a deletion confirmed with port 0 and lifetime 0', () => {
  const b = Buffer.from([0, 129, 0, 0, 0, 0, 0, 5, 0x9c, 0x40, 0x9c, 0x41, 0, 0, 0x0e, 0x10]);
  assert.deepEqual(decodeNatPmpResponse(b), { kind: 'map', resultCode: 0, epoch: 5, internalPort: 40000, externalPort: 40001, lifetimeSeconds: 3600 });
  const del = Buffer.from([0, 129, 0, 0, 0, 0, 0, 5, 0x9c, 0x40, 0, 0, 0, 0, 0, 0]);
  assert.equal((decodeNatPmpResponse(del) as { externalPort: number }).externalPort, 0);
});

test('an error response may stop after its 8-byte header; its result code is kept and named', () => {
  const r = decodeNatPmpResponse(Buffer.from([0, 129, 0, 2, 0, 0, 0, 9]));
  assert.deepEqual(r, { kind: 'map', resultCode: 2, epoch: 9, internalPort: null, externalPort: null, lifetimeSeconds: null });
  assert.match(natPmpResultName(3), /network failure/);
  assert.match(natPmpResultName(99), /unknown/);
});

test('rejects short, long, wrong-version, request-opcode and port-0 answers with ERR_PORTMAP_MALFORMED', () => {
  const bad = [
    [],
    [0, 128, 0, 0, 0, 0, 0],
    [0, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3], // 11 bytes
    [0, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5], // 13 bytes
    [2, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], // PCP version
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], // a request echoed back
    [0, 129, 0, 0, 0, 0, 0, 5, 0x9c, 0x40, 0, 0, 0, 0, 0x0e, 0x10], // success, external port 0, lifetime 3600
  ];
  for (const b of bad) assert.throws(() => decodeNatPmpResponse(Buffer.from(b)), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'), JSON.stringify(b));
});

test('fuzz: any bytes decode or fail with a BurrowError, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, asResponse) => {
      const b = Buffer.from(bytes);
      if (asResponse && b.length >= 2) {
        b[0] = 0;
        b[1] = 128 + (b[1]! & 1);
      }
      try {
        const r = decodeNatPmpResponse(b);
        assert.ok(r.kind === 'map' || r.kind === 'external-address');
      } catch (e) {
        assert.ok(e instanceof BurrowError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

/**
 * The STUN codec against RFC 5769's sample messages, round trips of
 * arbitrary messages, and garbage that must yield a typed failure, never a throw.
 */
import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import {
  decodeAddressValue,
  decodeXorAddressValue,
  encodeAddressValue,
  encodeXorAddressValue,
} from '../../src/stun/address.js';
import { encodeBindingRequest, newStunId, PADDED_REQUEST_SIZE, readBindingResponse, readChangeRequest } from '../../src/stun/binding.js';
import { Attr, MAX_ATTRIBUTES, MAX_MESSAGE_SIZE, Method } from '../../src/stun/constants.js';
import { bytesToIp, ipToBytes } from '../../src/net/ip.js';
import { decodeMessage, encodeMessage, findAttribute, hasMagicCookie, messageType, type StunMessage } from '../../src/stun/message.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 section 2.1-2.3 (test vectors), byte for byte.
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);
const SAMPLE_ID = hex('21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae');

function decodeOk(bytes: Uint8Array): StunMessage {
  const d = decodeMessage(bytes);
  assert.ok(d.ok, `decodes (${d.ok ? '' : d.error})`);
  return d.message;
}

describe('RFC 5769 test vectors', () => {
  it('the sample request: Binding request, its attributes, fingerprint checked', () => {
    const m = decodeOk(SAMPLE_REQUEST);
    assert.equal(m.method, Method.Binding);
    assert.equal(m.cls, 'request');
    assert.deepEqual(Buffer.from(m.id), SAMPLE_ID);
    assert.ok(hasMagicCookie(m.id));
    assert.deepEqual(
      m.attributes.map((a) => a.type),
      [Attr.Software, 0x0024, 0x8029, Attr.Username, Attr.MessageIntegrity, Attr.Fingerprint],
    );
    assert.equal(Buffer.from(findAttribute(m, Attr.Software)!.value).toString(), 'STUN test client');
    // The username is 9 bytes padded with spaces: padding is not part of the value.
    assert.equal(Buffer.from(findAttribute(m, Attr.Username)!.value).toString(), 'evtj:h6vY');
    assert.deepEqual(readChangeRequest(m), { ip: false, port: false });
  });

  it('the IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const m = decodeOk(SAMPLE_IPV4_RESPONSE);
    assert.equal(m.cls, 'success');
    assert.deepEqual(readBindingResponse(m).mapped, { address: '192.0.2.1', port: 32853 });
    assert.equal(Buffer.from(findAttribute(m, Attr.Software)!.value).toString(), 'test vector');
  });

  it('the IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = decodeOk(SAMPLE_IPV6_RESPONSE);
    assert.deepEqual(readBindingResponse(m).mapped, { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  });

  it('re-encoding the vectors gives the same attributes and a fingerprint that verifies', () => {
    for (const v of [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE]) {
      const m = decodeOk(v);
      const body = m.attributes.filter((a) => a.type !== Attr.Fingerprint);
      const out = encodeMessage({ ...m, attributes: body }, { fingerprint: true });
      assert.equal(out.length, v.length);
      const back = decodeOk(out);
      assert.deepEqual(back.attributes.slice(0, -1), body);
      // The vectors pad with spaces, we pad with zeros: every other byte before the fingerprint is identical.
      const differ = [...out.subarray(0, -8)].flatMap((b, i) => (b !== v[i] ? [i] : []));
      for (const i of differ) assert.equal(v[i], 0x20, `byte ${i} differs only as padding`);
    }
  });

  it('the XOR address values encode to the vectors', () => {
    assert.equal(Buffer.from(encodeXorAddressValue({ address: '192.0.2.1', port: 32853 }, SAMPLE_ID)!).toString('hex'), '0001a147e112a643');
    assert.equal(
      Buffer.from(encodeXorAddressValue({ address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 }, SAMPLE_ID)!).toString('hex'),
      '0002a1470113a9faa5d3f179bc25f4b5bed2b9d9',
    );
  });

  it('a flipped bit anywhere before the fingerprint fails the fingerprint check', () => {
    for (let i = 0; i < SAMPLE_IPV4_RESPONSE.length - 8; i++) {
      const b = Buffer.from(SAMPLE_IPV4_RESPONSE);
      b[i] = at(b, i) ^ 0x01;
      const d = decodeMessage(b);
      assert.equal(d.ok, false, `bit flip at byte ${i} noticed`);
    }
  });
});

describe('message layout', () => {
  it('message types: Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011', () => {
    assert.equal(messageType(1, 'request'), 0x0001);
    assert.equal(messageType(1, 'success'), 0x0101);
    assert.equal(messageType(1, 'error'), 0x0111);
    assert.equal(messageType(1, 'indication'), 0x0011);
  });

  it('an RFC 3489 request (Debian stun, captured): 28 bytes, no cookie, CHANGE-REQUEST', () => {
    const m = decodeOk(hex('00010008021c37426db45776e43c5e61e7bb210c0003000400000004'));
    assert.equal(hasMagicCookie(m.id), false);
    assert.deepEqual(readChangeRequest(m), { ip: true, port: false });
  });

  it('our requests are padded to PADDED_REQUEST_SIZE and carry a fingerprint', () => {
    const id = newStunId(() => new Uint8Array(12).fill(7));
    const req = encodeBindingRequest({ id, changeIp: true, changePort: true });
    assert.ok(req.length >= PADDED_REQUEST_SIZE && req.length < PADDED_REQUEST_SIZE + 4);
    const m = decodeOk(req);
    assert.deepEqual(readChangeRequest(m), { ip: true, port: true });
    assert.equal(m.attributes.at(-1)!.type, Attr.Fingerprint);
    assert.ok(findAttribute(m, Attr.Padding));
    assert.equal(encodeBindingRequest({ id, padTo: 0, fingerprint: false }).length, 20, 'a bare request is 20 bytes');
  });

  it('ip text <-> bytes', () => {
    for (const ip of ['0.0.0.0', '203.0.113.7', '::', '::1', '2001:db8::1', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8', '2001:db8:0:0:1::1']) {
      const b = ipToBytes(ip)!;
      assert.ok(b, ip);
      assert.deepEqual(ipToBytes(bytesToIp(b)), b, ip);
    }
    assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(bytesToIp(ipToBytes('::ffff:192.0.2.9')!), '192.0.2.9', 'IPv4-mapped = IPv4');
    assert.equal(bytesToIp(ipToBytes('::FFFF:c000:209')!), '192.0.2.9', 'IPv4-mapped in hex groups = IPv4');
    assert.deepEqual([...ipToBytes('::192.0.2.9')!].slice(12), [192, 0, 2, 9]);
    for (const bad of ['', 'example.com', '1.2.3', '1.2.3.256', ':::', '1::2::3', 'fe80::1%eth0']) assert.equal(ipToBytes(bad), null, bad);
  });
});

const endpointArb = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([address, port]) => ({ address, port })),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([address, port]) => ({ address: bytesToIp(ipToBytes(address)!), port })),
);

const messageArb = fc.record({
  method: fc.integer({ min: 0, max: 0xfff }),
  cls: fc.constantFrom('request' as const, 'indication' as const, 'success' as const, 'error' as const),
  id: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  attributes: fc.array(
    fc.record({ type: fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== Attr.Fingerprint), value: fc.uint8Array({ maxLength: 40 }) }),
    { maxLength: 20 },
  ),
});

describe('properties', () => {
  it('encode then decode gives the message back (with and without fingerprint)', () => {
    fc.assert(
      fc.property(messageArb, fc.boolean(), (msg, fp) => {
        const back = decodeOk(encodeMessage(msg, { fingerprint: fp }));
        assert.equal(back.method, msg.method);
        assert.equal(back.cls, msg.cls);
        assert.deepEqual(Buffer.from(back.id), Buffer.from(msg.id));
        const attrs = back.attributes.filter((a) => a.type !== Attr.Fingerprint);
        assert.deepEqual(attrs.map((a) => [a.type, Buffer.from(a.value)]), msg.attributes.map((a) => [a.type, Buffer.from(a.value)]));
      }),
      { numRuns: 500 },
    );
  });

  it('address values round-trip, plain and XOR', () => {
    fc.assert(
      fc.property(endpointArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), (ep, id) => {
        assert.deepEqual(decodeAddressValue(encodeAddressValue(ep)!), ep);
        assert.deepEqual(decodeXorAddressValue(encodeXorAddressValue(ep, id)!, id), ep);
      }),
      { numRuns: 500 },
    );
  });

  it('garbage never throws: random bytes, and random bodies behind a valid-looking header', () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ maxLength: 120 }), fc.boolean()).map(([type, body, goodLength]) => {
        const b = Buffer.alloc(20 + body.length);
        b.writeUInt16BE(type, 0);
        b.writeUInt16BE(goodLength ? body.length : (body.length + 4) & 0xffff, 2);
        b.writeUInt32BE(0x2112a442, 4);
        b.set(body, 20);
        return new Uint8Array(b);
      }),
    );
    fc.assert(
      fc.property(garbage, (bytes) => {
        const d = decodeMessage(bytes);
        if (d.ok) {
          // Whatever decodes can be read without throwing too.
          readBindingResponse(d.message);
          readChangeRequest(d.message);
        } else {
          assert.equal(typeof d.error, 'string');
        }
      }),
      { numRuns: 3000 },
    );
    for (const v of [new Uint8Array(0), Uint8Array.of(0), new Uint8Array(19)]) assert.deepEqual(decodeMessage(v), { ok: false, error: 'too-short' });
  });

  it('attribute count and message size are bounded', () => {
    const n = MAX_ATTRIBUTES + 1;
    const b = Buffer.alloc(20 + 4 * n);
    b.writeUInt16BE(0x0001, 0);
    b.writeUInt16BE(4 * n, 2);
    b.writeUInt32BE(0x2112a442, 4);
    for (let i = 0; i < n; i++) b.writeUInt16BE(0x8022, 20 + 4 * i);
    assert.deepEqual(decodeMessage(b), { ok: false, error: 'too-many-attributes' });
    assert.deepEqual(decodeMessage(Buffer.alloc(MAX_MESSAGE_SIZE + 1)), { ok: false, error: 'too-large' });
    // 16 000 attributes (what the npm `stun` package decodes in ~40 ms) cost nothing here.
    const big = Buffer.alloc(20 + 4 * 300);
    big.writeUInt16BE(4 * 300, 2);
    assert.equal(decodeMessage(big).ok, false);
  });

  it('typed failures for each malformation', () => {
    const base = encodeMessage({ method: 1, cls: 'request', id: SAMPLE_ID, attributes: [{ type: Attr.Software, value: Buffer.from('abc') }] });
    const badLen = Buffer.from(base);
    badLen.writeUInt16BE(6, 2);
    assert.deepEqual(decodeMessage(badLen), { ok: false, error: 'bad-length' });
    const truncated = Buffer.from(base);
    truncated.writeUInt16BE(40, 22);
    assert.deepEqual(decodeMessage(truncated), { ok: false, error: 'truncated-attribute' });
    const top = Buffer.from(base);
    top[0] = 0x80;
    assert.deepEqual(decodeMessage(top), { ok: false, error: 'not-stun' });
    // A valid FINGERPRINT (computed with the final length) followed by one more attribute.
    const after = Buffer.concat([encodeMessage({ method: 1, cls: 'request', id: SAMPLE_ID, attributes: [] }), Buffer.alloc(8), Buffer.from('80220000', 'hex')]);
    after.writeUInt16BE(12, 2);
    after.writeUInt32BE(0x80280004, 20);
    after.writeUInt32BE((crc32(after.subarray(0, 20)) ^ 0x5354554e) >>> 0, 24);
    assert.deepEqual(decodeMessage(after), { ok: false, error: 'attribute-after-fingerprint' });
    assert.deepEqual(readChangeRequest(decodeOk(encodeMessage({ method: 1, cls: 'request', id: SAMPLE_ID, attributes: [{ type: Attr.ChangeRequest, value: Uint8Array.of(4) }] }))), 'malformed');
    assert.equal(decodeAddressValue(Uint8Array.of(0, 3, 0, 1, 1, 2, 3, 4)), null, 'unknown family');
    assert.equal(decodeAddressValue(Uint8Array.of(0, 1, 0, 1, 1, 2, 3)), null, 'short IPv4');
  });
});

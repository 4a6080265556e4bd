/**
 * The rendezvous's STUN responder: what it answers, from which socket, the
 * amplification rule, CHANGE-REQUEST, rate limiting, and the non-STUN hook.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBindingRequest, newStunId, readBindingResponse } from '../../src/stun/binding.js';
import { Attr } from '../../src/stun/constants.js';
import { decodeMessage, encodeMessage, findAttribute, type StunMessage } from '../../src/stun/message.js';
import { RESPONSE_ALLOWANCE, StunResponder, type StunLayout, type StunSlot } from '../../rendezvous/stun-responder.js';
import { UdpService } from '../../rendezvous/udp-service.js';
import { FakeSocket } from './fake-socket.js';

const LAYOUT: StunLayout = { primary: { address: '198.51.100.2', port: 3478 }, altPort: 3479, altAddress: '198.51.100.3' };
const CLIENT = { address: '203.0.113.10', port: 40000 };
const CLIENT6 = { address: '2001:db8::10', port: 40000 };
let seq = 0;
const id = (): Uint8Array => newStunId(() => new Uint8Array(12).fill(++seq & 0xff));
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Debian's `stun` 0.97 request as captured on the wire (RFC 3489, 28 bytes, CHANGE-REQUEST 0). */
const DEBIAN_REQUEST = hex('000100080100f13bd2162c5cc587f7712851fe3c0003000400000000');

function reply(r: StunResponder, data: Uint8Array, slot: StunSlot = 'primary', from = CLIENT) {
  const d = r.handle(data, from, slot, 0);
  assert.equal(d.kind, 'reply', d.kind === 'drop' ? `dropped: ${d.reason}` : '');
  if (d.kind !== 'reply') throw new Error('unreachable');
  const m = decodeMessage(d.data);
  assert.ok(m.ok);
  return { ...d, msg: m.message as StunMessage };
}

const types = (m: StunMessage): number[] => m.attributes.map((a) => a.type);

describe('StunResponder', () => {
  it('a padded RFC 8489 request gets every attribute, never more bytes than it sent', () => {
    const r = new StunResponder(LAYOUT);
    const req = encodeBindingRequest({ id: id() });
    const { msg, data, slot, to } = reply(r, req);
    assert.equal(slot, 'primary');
    assert.deepEqual(to, CLIENT);
    assert.deepEqual(types(msg), [Attr.XorMappedAddress, Attr.OtherAddress, Attr.ResponseOrigin, Attr.MappedAddress, Attr.Fingerprint]);
    const info = readBindingResponse(msg);
    assert.deepEqual(info.mapped, CLIENT);
    assert.deepEqual(info.other, { address: '198.51.100.3', port: 3479 });
    assert.deepEqual(info.origin, LAYOUT.primary);
    assert.ok(data.length <= req.length, `${data.length} <= ${req.length}`);
    // IPv6 too.
    const six = reply(r, req, 'primary', CLIENT6);
    assert.ok(six.data.length <= req.length);
    assert.deepEqual(readBindingResponse(six.msg).mapped, CLIENT6);
  });

  it("Debian's stun request (28 bytes) gets MAPPED-ADDRESS and CHANGED-ADDRESS: 44 bytes", () => {
    const r = new StunResponder(LAYOUT);
    const { msg, data } = reply(r, DEBIAN_REQUEST);
    assert.deepEqual(types(msg), [Attr.MappedAddress, Attr.ChangedAddress]);
    assert.equal(data.length, 44);
    assert.deepEqual(Buffer.from(msg.id), DEBIAN_REQUEST.subarray(4, 20), 'the RFC 3489 id is echoed');
    assert.deepEqual(readBindingResponse(msg).other, { address: '198.51.100.3', port: 3479 });
  });

  it('a bare 20-byte RFC 8489 request gets XOR-MAPPED-ADDRESS first, within request + 24 bytes', () => {
    const r = new StunResponder(LAYOUT);
    const bare = encodeBindingRequest({ id: id(), padTo: 0, fingerprint: false });
    assert.equal(bare.length, 20);
    const { msg, data } = reply(r, bare);
    assert.equal(types(msg)[0], Attr.XorMappedAddress);
    assert.ok(data.length <= 20 + RESPONSE_ALLOWANCE);
    assert.deepEqual(readBindingResponse(msg).mapped, CLIENT);
    const six = reply(r, bare, 'primary', CLIENT6);
    assert.deepEqual(types(six.msg), [Attr.XorMappedAddress]);
    assert.equal(six.data.length, 44);
  });

  it('with allowance 0 a response is never bigger than its request; too small for an address = no answer, counted', () => {
    const r = new StunResponder(LAYOUT, { allowance: 0 });
    assert.deepEqual(r.handle(encodeBindingRequest({ id: id(), padTo: 0, fingerprint: false }), CLIENT, 'primary', 0), { kind: 'drop', reason: 'too-small' });
    assert.deepEqual(r.handle(DEBIAN_REQUEST, CLIENT, 'primary', 0), { kind: 'drop', reason: 'too-small' });
    assert.equal(r.stats.dropped['too-small'], 2);
    const { msg } = reply(r, encodeBindingRequest({ id: id(), padTo: 32, fingerprint: false }));
    assert.deepEqual(types(msg), [Attr.XorMappedAddress]);
  });

  it('property: response size <= request size + allowance, for any request and allowance', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 0, max: 200 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<StunSlot>('primary', 'altPort', 'altAddress', 'altBoth'),
        fc.boolean(),
        (allowance, padTo, changeIp, changePort, slot, v6) => {
          const r = new StunResponder(LAYOUT, { allowance });
          const req = encodeBindingRequest({ id: id(), padTo, changeIp, changePort });
          const d = r.handle(req, v6 ? CLIENT6 : CLIENT, slot, 0);
          if (d.kind === 'reply') assert.ok(d.data.length <= req.length + allowance);
          else assert.equal(d.reason, 'too-small');
        },
      ),
      { numRuns: 400 },
    );
  });

  it('CHANGE-REQUEST: answered from the other IP and/or port socket', () => {
    const r = new StunResponder(LAYOUT);
    const cases: [boolean, boolean, StunSlot, StunSlot][] = [
      [true, true, 'primary', 'altBoth'],
      [false, true, 'primary', 'altPort'],
      [true, false, 'primary', 'altAddress'],
      [true, true, 'altBoth', 'primary'],
      [false, true, 'altAddress', 'altBoth'],
    ];
    for (const [changeIp, changePort, inSlot, outSlot] of cases) {
      const { slot, msg } = reply(r, encodeBindingRequest({ id: id(), changeIp, changePort }), inSlot);
      assert.equal(slot, outSlot, `${inSlot} change ip=${changeIp} port=${changePort}`);
      assert.deepEqual(readBindingResponse(msg).origin, r.endpointOf(outSlot));
      // OTHER-ADDRESS is relative to where the request arrived.
      assert.deepEqual(readBindingResponse(msg).other, r.endpointOf(inSlot === 'primary' ? 'altBoth' : inSlot === 'altBoth' ? 'primary' : inSlot === 'altAddress' ? 'altPort' : 'altAddress'));
    }
    assert.equal(r.stats.answeredChanged, cases.length);
  });

  it('CHANGE-REQUEST for a socket that does not exist is dropped, never answered from the wrong one', () => {
    const r = new StunResponder({ primary: { address: '0.0.0.0', port: 3478 }, altPort: 3479, altAddress: null });
    assert.deepEqual(r.slots(), ['primary', 'altPort']);
    assert.deepEqual(r.handle(encodeBindingRequest({ id: id(), changeIp: true }), CLIENT, 'primary', 0), { kind: 'drop', reason: 'change-unavailable' });
    assert.deepEqual(r.handle(encodeBindingRequest({ id: id(), changeIp: true, changePort: true }), CLIENT, 'primary', 0), { kind: 'drop', reason: 'change-unavailable' });
    const { slot, msg } = reply(r, encodeBindingRequest({ id: id(), changePort: true }));
    assert.equal(slot, 'altPort');
    // No second address: no OTHER-ADDRESS; wildcard bind: origin unknown, so no RESPONSE-ORIGIN.
    assert.deepEqual(types(msg), [Attr.XorMappedAddress, Attr.MappedAddress, Attr.Fingerprint]);
    const noAlt = new StunResponder({ primary: { address: '127.0.0.1', port: 3478 }, altPort: null, altAddress: null });
    assert.deepEqual(noAlt.handle(encodeBindingRequest({ id: id(), changePort: true }), CLIENT, 'primary', 0), { kind: 'drop', reason: 'change-unavailable' });
  });

  it('drops what is not a Binding request, and requests with attributes it will not honour', () => {
    const r = new StunResponder(LAYOUT);
    const i = id();
    const resp = encodeMessage({ method: 1, cls: 'success', id: i, attributes: [] });
    assert.deepEqual(r.handle(resp, CLIENT, 'primary', 0), { kind: 'drop', reason: 'not-binding-request' });
    const alloc = encodeMessage({ method: 3, cls: 'request', id: i, attributes: [] });
    assert.deepEqual(r.handle(alloc, CLIENT, 'primary', 0), { kind: 'drop', reason: 'not-binding-request' });
    // RESPONSE-ADDRESS would aim the answer at a third party.
    const reflect = encodeMessage({ method: 1, cls: 'request', id: i, attributes: [{ type: Attr.ResponseAddress, value: Uint8Array.of(0, 1, 0, 80, 192, 0, 2, 1) }] });
    assert.deepEqual(r.handle(reflect, CLIENT, 'primary', 0), { kind: 'drop', reason: 'unknown-attribute' });
    // Unknown comprehension-optional attributes are fine.
    reply(r, encodeMessage({ method: 1, cls: 'request', id: i, attributes: [{ type: Attr.Software, value: Buffer.from('x') }, { type: 0x8000, value: new Uint8Array(40) }] }));
    assert.deepEqual(r.handle(Buffer.from('0001000021', 'hex'), CLIENT, 'primary', 0), { kind: 'drop', reason: 'malformed' });
  });

  it('rate limit per source address, counted; other sources unaffected; the source map is bounded', () => {
    const r = new StunResponder(LAYOUT, { rateLimit: { burst: 5, perSecond: 2, maxSources: 3 } });
    const req = encodeBindingRequest({ id: id() });
    const at = (t: number, from = CLIENT) => r.handle(req, from, 'primary', t).kind;
    for (let i = 0; i < 5; i++) assert.equal(at(0), 'reply');
    // Another port of the same host shares the bucket.
    assert.equal(at(0, { address: CLIENT.address, port: 1 }), 'drop');
    assert.equal(r.stats.dropped['rate-limited'], 1);
    assert.equal(at(0, { address: '192.0.2.99', port: 1 }), 'reply', 'another source');
    assert.equal(at(500), 'reply', 'one token back after 500 ms at 2/s');
    assert.equal(at(500), 'drop');
    for (let i = 0; i < 10; i++) at(600, { address: `192.0.2.${i}`, port: 9 });
    assert.equal(r.trackedSources, 3);
  });

  it('garbage never throws and is counted', () => {
    const r = new StunResponder(LAYOUT, { rateLimit: { burst: 1e9, perSecond: 1e9, maxSources: 10 } });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const d = r.handle(b, CLIENT, 'primary', 0);
        if (d.kind === 'reply') assert.ok(d.data.length <= b.length + RESPONSE_ALLOWANCE);
      }),
      { numRuns: 2000 },
    );
    assert.ok(r.stats.dropped.malformed > 1500);
  });
});

describe('UdpService on fake sockets', () => {
  const sockets = () => ({
    primary: new FakeSocket({ address: '198.51.100.2', port: 3478 }),
    altPort: new FakeSocket({ address: '198.51.100.2', port: 3479 }),
    altAddress: new FakeSocket({ address: '198.51.100.3', port: 3478 }),
    altBoth: new FakeSocket({ address: '198.51.100.3', port: 3479 }),
  });

  it('answers on the socket the responder picks; closes every socket', () => {
    const s = sockets();
    const svc = new UdpService(LAYOUT, s);
    s.primary.inject(encodeBindingRequest({ id: id(), changeIp: true, changePort: true }), CLIENT);
    assert.equal(s.primary.sent.length, 0);
    assert.equal(s.altBoth.sent.length, 1);
    assert.deepEqual(s.altBoth.sent[0]!.to, CLIENT);
    const m = decodeMessage(s.altBoth.sent[0]!.data);
    assert.ok(m.ok && findAttribute(m.message, Attr.XorMappedAddress));
    assert.equal(svc.describe(), '198.51.100.2:3478,198.51.100.2:3479,198.51.100.3:3478,198.51.100.3:3479');
    svc.close();
    assert.ok(Object.values(s).every((x) => x.closed));
  });

  it('non-STUN datagrams: dropped and counted, or handed to onOtherPacket', () => {
    const s = sockets();
    const svc = new UdpService(LAYOUT, s);
    s.altPort.inject(Buffer.from([0xb1, 1, 2, 3]), CLIENT);
    s.primary.inject(Buffer.alloc(0), CLIENT);
    assert.equal(svc.stats.notStun, 1);
    assert.equal(svc.stats.empty, 1);
    const got: [number, StunSlot][] = [];
    svc.onOtherPacket((data, _from, socket, slot) => {
      got.push([data[0]!, slot]);
      socket.send(Buffer.from('pong'), CLIENT);
    });
    s.altPort.inject(Buffer.from([0xb1, 9]), CLIENT);
    assert.deepEqual(got, [[0xb1, 'altPort']]);
    assert.equal(s.altPort.sent.length, 1);
    assert.equal(svc.stats.otherPackets, 1);
    // A STUN-looking datagram still goes to the responder.
    s.primary.inject(encodeBindingRequest({ id: id() }), CLIENT);
    assert.equal(s.primary.sent.length, 1);
    assert.equal(svc.stats.answered, 1);
  });

  it('refuses a layout without the sockets it names', () => {
    assert.throws(() => new UdpService(LAYOUT, { primary: new FakeSocket(LAYOUT.primary) }), /altPort socket/);
  });
});

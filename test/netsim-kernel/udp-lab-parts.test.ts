/**
 * The UDP-service lab's pure parts (no root needed): the DNS wire parser the
 * DNS test reads answers with, and the echo-check ledger that decides
 * "byte-exact, none duplicated, loss ≤ 1 %".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsWireError, decodeResponse, encodeQuery } from '../../netsim/kernel/dns-wire.js';
import { BURST_HEADER, BurstLedger } from '../../netsim/kernel/udp-burst.js';

/** A response to `query` with A answers, names compressed to the question (0xc00c). */
function answer(query: Buffer, addrs: string[], rcode = 0): Buffer {
  const head = Buffer.from(query.subarray(0, 12));
  head.writeUInt16BE(0x8180 | rcode, 2);
  head.writeUInt16BE(addrs.length, 6);
  const rrs = addrs.map((a) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(4, 10);
    a.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    return rr;
  });
  return Buffer.concat([head, query.subarray(12), ...rrs]);
}

test('dns-wire: a query is RFC 1035 bytes; a compressed answer decodes', () => {
  const q = encodeQuery(0x1234, 'test.burrow');
  assert.equal(q.toString('hex'), '123401000001000000000000' + '0474657374' + '06627572726f77' + '00' + '00010001');
  const r = decodeResponse(answer(q, ['10.9.9.9', '192.0.2.1']));
  assert.deepEqual(r, {
    id: 0x1234, response: true, rcode: 0, question: 'test.burrow',
    answers: [
      { name: 'test.burrow', type: 1, ttl: 300, data: '10.9.9.9' },
      { name: 'test.burrow', type: 1, ttl: 300, data: '192.0.2.1' },
    ],
  });
  assert.equal(decodeResponse(answer(q, [], 3)).rcode, 3);
  assert.throws(() => encodeQuery(1, 'a..b'), DnsWireError);
  assert.throws(() => encodeQuery(70_000, 'a.b'), DnsWireError);
});

test('dns-wire: malformed responses are errors, never a hang or a crash', () => {
  const q = encodeQuery(7, 'test.burrow');
  const good = answer(q, ['10.9.9.9']);
  assert.throws(() => decodeResponse(good.subarray(0, 11)), /shorter than a DNS header/);
  for (let n = 12; n < good.length; n++) assert.throws(() => decodeResponse(good.subarray(0, n)), DnsWireError, `cut at ${n}`);
  const loop = Buffer.from(good);
  loop.writeUInt16BE(0xc000 | good.length - 16, good.length - 16); // the answer's name points at itself
  assert.throws(() => decodeResponse(loop), /loop/);
  const badLabel = Buffer.from(good);
  badLabel.writeUInt8(0x80, 12);
  assert.throws(() => decodeResponse(badLabel), /bad label length/);
});

test('burst ledger: a faithful echo is all received; sizes span min..max; the window holds', () => {
  const l = new BurstLedger({ count: 200, maxSize: 1371, window: 8, lossTimeoutMs: 100 });
  let now = 0;
  const pending: Buffer[] = [];
  const sizes: number[] = [];
  while (!l.done) {
    for (let p = l.next(now); p; p = l.next(now)) pending.push(p);
    assert.ok(pending.length <= 8, 'never more than the window in flight');
    const p = pending.shift();
    assert.ok(p, 'something in flight while not done');
    sizes.push(p.length);
    assert.equal(l.onReply(Buffer.from(p), ++now), 'ok');
  }
  const r = l.report();
  assert.deepEqual([r.sent, r.received, r.lost, r.duplicates, r.corrupt, r.late, r.stray], [200, 200, 0, 0, 0, 0, 0]);
  assert.equal(Math.max(...sizes), 1371);
  assert.equal(Math.min(...sizes), BURST_HEADER);
  assert.equal(r.maxSizeSent, 1371);
});

test('burst ledger: a flipped byte, a cut datagram, a duplicate, a stray and a late answer are each told apart', () => {
  const l = new BurstLedger({ count: 5, maxSize: 600, minSize: 100, window: 5, lossTimeoutMs: 10 });
  const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(() => l.next(0));
  assert.ok(a && b && c && d && e);
  const flipped = Buffer.from(a);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
  assert.equal(l.onReply(flipped, 1), 'corrupt');
  assert.equal(l.onReply(b.subarray(0, b.length - 1), 1), 'corrupt');
  assert.equal(l.onReply(c, 1), 'ok');
  assert.equal(l.onReply(c, 2), 'duplicate');
  const stray = Buffer.from(d);
  stray.writeUInt32BE((stray.readUInt32BE(4) + 1) >>> 0, 4); // another run's tag
  assert.equal(l.onReply(stray, 2), 'stray');
  assert.equal(l.expire(10), 4, 'a, b, d and e overdue');
  assert.equal(l.onReply(d, 11), 'late');
  assert.ok(l.done);
  const r = l.report();
  assert.deepEqual([r.received, r.lost, r.late, r.duplicates, r.corrupt, r.stray], [2, 3, 1, 1, 2, 1]);
});

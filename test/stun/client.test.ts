/**
 * The Binding client on a fake clock: retransmission schedule, bounded
 * attempts and deadline, matching by transaction id and source, parallel
 * servers, and living on a socket it does not own.
 */
import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { BindingClient } from '../../src/stun/binding-client.js';
import { Attr, Method } from '../../src/stun/constants.js';
import { encodeXorAddressValue } from '../../src/stun/address.js';
import { decodeMessage, encodeMessage } from '../../src/stun/message.js';
import { BindingTransaction, type TransactionResult } from '../../src/stun/transaction.js';
import { FakeSocket } from './fake-socket.js';

const SERVER = { address: '198.51.100.2', port: 3478 };
const OTHER = { address: '198.51.100.3', port: 3479 };
const ME = { address: '10.0.0.2', port: 5000 };
const PUBLIC = { address: '203.0.113.10', port: 5000 };

function counter(): (n: number) => Uint8Array {
  let i = 0;
  return (n) => new Uint8Array(n).fill(++i);
}

/** A success response to the request in `datagram`, naming `mapped`. */
function answer(datagram: Buffer, mapped = PUBLIC, cls: 'success' | 'error' = 'success'): Buffer {
  const d = decodeMessage(datagram);
  assert.ok(d.ok);
  const attributes = cls === 'success' ? [{ type: Attr.XorMappedAddress, value: encodeXorAddressValue(mapped, d.message.id)! }] : [{ type: Attr.ErrorCode, value: Uint8Array.of(0, 0, 4, 20, 0x78) }];
  return encodeMessage({ method: Method.Binding, cls, id: d.message.id, attributes });
}

function track(p: Promise<TransactionResult>): { value: TransactionResult | null } {
  const box: { value: TransactionResult | null } = { value: null };
  void p.then((v) => (box.value = v));
  return box;
}

describe('BindingTransaction (sans-I/O)', () => {
  it('retransmits at 0, 500, 1500, 3500 ms (RTO doubling), stops at maxSends, times out at the deadline', () => {
    const tx = new BindingTransaction({ id: new Uint8Array(16), request: Uint8Array.of(1), to: SERVER, maxSends: 4, timeoutMs: 9000 }, 0);
    const sends: number[] = [];
    let now = 0;
    for (let i = 0; i < 20 && !tx.done; i++) {
      if (tx.poll(now) !== null) sends.push(now);
      const next = tx.nextDeadline();
      if (next === null) break;
      now = next;
    }
    assert.deepEqual(sends, [0, 500, 1500, 3500]);
    assert.equal(now, 9000);
    assert.deepEqual(tx.result, { ok: false, reason: 'timeout', sends: 4 });
  });

  it('the deadline cuts retransmissions short', () => {
    const tx = new BindingTransaction({ id: new Uint8Array(16), request: Uint8Array.of(1), to: SERVER, timeoutMs: 1200 }, 100);
    const sends: number[] = [];
    let now = 100;
    while (!tx.done) {
      if (tx.poll(now) !== null) sends.push(now);
      now = tx.nextDeadline() ?? now;
    }
    assert.deepEqual(sends, [100, 600]);
    assert.equal(now, 1300);
  });
});

describe('BindingClient on a socket it does not own', () => {
  it('answers are matched by transaction id and source; everything else is left to the owner', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const ownerSaw: string[] = [];
    const client = new BindingClient(sock, { scheduler: clock, random: counter() });
    // The owner's handler stays in charge.
    sock.onMessage((data, from) => {
      if (client.handle(data, from)) return;
      ownerSaw.push(data.toString('hex').slice(0, 8));
    });
    const res = track(client.request({ to: SERVER }));
    await clock.advance(0);
    assert.equal(sock.sent.length, 1);
    const req = sock.sent[0]!.data;
    assert.ok(req.length >= 124, 'padded request');
    // Right id, wrong source: ignored (a third party cannot answer for the server).
    sock.inject(answer(req), { address: '192.0.2.66', port: 3478 });
    // Wrong id.
    const other = Buffer.from(answer(req));
    other[19] = at(other, 19) ^ 1;
    sock.inject(other, SERVER);
    // Not STUN at all.
    sock.inject(Buffer.from([0xb1, 0, 0]), SERVER);
    assert.equal(res.value, null);
    assert.equal(ownerSaw.length, 3);
    sock.inject(answer(req), SERVER);
    await clock.advance(0);
    const got = res.value as TransactionResult | null;
    assert.ok(got?.ok);
    assert.deepEqual(got.info.mapped, PUBLIC);
    assert.equal(ownerSaw.length, 3, 'the real answer was consumed');
    // A late duplicate of the answer is no longer ours.
    sock.inject(answer(req), SERVER);
    assert.equal(ownerSaw.length, 4);
    assert.equal(client.inFlight, 0);
  });

  it('retransmits on the fake clock, and a late answer to an earlier copy still counts', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const client = new BindingClient(sock, { scheduler: clock, random: counter() });
    sock.onMessage((d, f) => client.handle(d, f));
    const res = track(client.request({ to: SERVER, timeoutMs: 5000 }));
    await clock.advance(1600);
    assert.deepEqual(sock.sent.map((s) => s.data.equals(sock.sent[0]!.data)), [true, true, true], 'sent at 0, 500, 1500: the same bytes');
    sock.inject(answer(sock.sent[0]!.data), SERVER);
    await clock.advance(0);
    assert.ok(res.value?.ok);
    assert.equal(res.value.ok && res.value.sends, 3);
    assert.equal(res.value.ok && res.value.elapsedMs, 1600);
    await clock.advance(10_000);
    assert.equal(sock.sent.length, 3, 'no sends after the answer');
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('a CHANGE-REQUEST answer is accepted only from the source the caller names', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const client = new BindingClient(sock, { scheduler: clock, random: counter() });
    const res = track(client.request({ to: SERVER, changeIp: true, changePort: true, acceptFrom: [OTHER], timeoutMs: 1000 }));
    await clock.advance(0);
    const req = sock.sent[0]!.data;
    assert.equal(client.handle(answer(req), SERVER), false, 'an answer from the primary would be a server ignoring the change: not accepted');
    assert.equal(client.handle(answer(req), OTHER), true);
    await clock.advance(0);
    assert.ok(res.value?.ok);
  });

  it('error responses end the transaction with the code', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const client = new BindingClient(sock, { scheduler: clock, random: counter() });
    const res = track(client.request({ to: SERVER }));
    await clock.advance(0);
    client.handle(answer(sock.sent[0]!.data, PUBLIC, 'error'), SERVER);
    await clock.advance(0);
    assert.deepEqual(res.value, { ok: false, reason: 'error-response', sends: 1, error: { code: 420, reason: 'x' } });
  });

  it('several servers in parallel: a silent one costs only its own timeout', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const client = new BindingClient(sock, { scheduler: clock, random: counter() });
    const silent = { address: '192.0.2.200', port: 3478 };
    const all = client.requestAll([{ to: silent, timeoutMs: 2000 }, { to: SERVER, timeoutMs: 2000 }]);
    const allBox = track(all.then((r) => r[0]!));
    const fast = track(client.request({ to: SERVER, timeoutMs: 2000 }));
    await clock.advance(20);
    for (const s of sock.sent.filter((x) => x.to === SERVER || x.to.address === SERVER.address)) client.handle(answer(s.data), SERVER);
    await clock.advance(0);
    assert.ok(fast.value?.ok, 'the answering server resolves at once');
    assert.equal(allBox.value, null);
    await clock.advance(2000);
    const results = await all;
    assert.deepEqual(results.map((r) => r.ok), [false, true]);
    assert.equal(results[0]!.ok === false && results[0]!.reason, 'timeout');
    assert.ok(clock.now() <= 2020);
  });

  it('bounded: requests beyond maxPending are refused; close() cancels the rest and leaves the socket open', async () => {
    const clock = new VirtualScheduler();
    const sock = new FakeSocket(ME);
    const client = new BindingClient(sock, { scheduler: clock, random: counter(), maxPending: 2 });
    const a = track(client.request({ to: SERVER }));
    const b = track(client.request({ to: SERVER }));
    const c = await client.request({ to: SERVER });
    assert.deepEqual(c, { ok: false, reason: 'busy', sends: 0 });
    client.close();
    await clock.advance(0);
    assert.equal(a.value?.ok === false && a.value.reason, 'cancelled');
    assert.equal(b.value?.ok === false && b.value.reason, 'cancelled');
    assert.equal(sock.closed, false, 'not our socket to close');
    assert.equal(clock.pending, 0);
    assert.equal((await client.request({ to: SERVER })).ok, false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BusReceiver, BusSender, MAX_BUS_FRAME } from '../../rendezvous/cluster/bus-codec.js';
import type { ClusterMessage } from '../../rendezvous/cluster/messages.js';
import { MAC_BYTES, ClusterSecret } from '../../rendezvous/cluster/secret.js';

const secret = new ClusterSecret('bus-test-secret-0123456789');
const A = { node: 'a', incarnation: 'a'.repeat(24) };
const B = { node: 'b', incarnation: 'b'.repeat(24) };
const T = { busMaxSkewMs: 30_000 };
const NOW = 1_800_000_000_000;
const ping: ClusterMessage = { type: 'ping', nonce: '42' };

describe('bus frames', () => {
  it('a sealed message opens at its addressee with its sender and contents', () => {
    const tx = new BusSender(secret, A);
    const rx = new BusReceiver(secret, B, T);
    const msg: ClusterMessage = { type: 'peer', fromPeer: 'p1', toPeer: 'p9', message: { type: 'offer', n: 3 } };
    const frame = tx.seal(B, msg, NOW);
    assert.ok(frame);
    assert.deepEqual(rx.open(frame, NOW + 5), { ok: true, from: A, msg });
    assert.equal(rx.accepted, 1);
  });

  it('any changed byte, or another secret, fails the MAC and is counted', () => {
    const frame = new BusSender(secret, A).seal(B, ping, NOW);
    assert.ok(frame);
    for (const i of [0, MAC_BYTES - 1, MAC_BYTES, MAC_BYTES + 10, frame.length - 1]) {
      const rx = new BusReceiver(secret, B, T);
      const bad: Buffer = Buffer.from(frame);
      bad[i] = (bad[i] ?? 0) ^ 1;
      assert.deepEqual(rx.open(bad, NOW), { ok: false, reason: 'bad-mac' }, `byte ${i}`);
    }
    const other = new BusSender(new ClusterSecret('another-secret-0123456789'), A).seal(B, ping, NOW);
    assert.ok(other);
    const rx = new BusReceiver(secret, B, T);
    assert.deepEqual(rx.open(other, NOW), { ok: false, reason: 'bad-mac' });
    assert.equal(rx.drops['bad-mac'], 1);
    assert.equal(rx.accepted, 0);
  });

  it('a replayed frame is dropped; frames out of order within the window are not', () => {
    const tx = new BusSender(secret, A);
    const rx = new BusReceiver(secret, B, T);
    const f = [0, 1, 2].map(() => tx.seal(B, ping, NOW));
    const [f0, f1, f2] = f;
    assert.ok(f0 && f1 && f2);
    assert.equal(rx.open(f2, NOW).ok, true);
    assert.equal(rx.open(f0, NOW).ok, true);
    assert.deepEqual(rx.open(f0, NOW), { ok: false, reason: 'replayed' });
    assert.equal(rx.open(f1, NOW).ok, true);
    assert.deepEqual(rx.open(f2, NOW), { ok: false, reason: 'replayed' });
    assert.equal(rx.drops.replayed, 2);
  });

  it('a frame for another node, or an earlier incarnation of this one, is not for us', () => {
    const tx = new BusSender(secret, A);
    const toC = tx.seal({ node: 'c', incarnation: B.incarnation }, ping, NOW);
    const toOldB = tx.seal({ node: 'b', incarnation: 'c'.repeat(24) }, ping, NOW);
    assert.ok(toC && toOldB);
    const rx = new BusReceiver(secret, B, T);
    assert.deepEqual(rx.open(toC, NOW), { ok: false, reason: 'not-for-us' });
    assert.deepEqual(rx.open(toOldB, NOW), { ok: false, reason: 'not-for-us' });
  });

  it('a frame stamped beyond the allowed skew either way is stale', () => {
    const tx = new BusSender(secret, A);
    const rx = new BusReceiver(secret, B, T);
    const old = tx.seal(B, ping, NOW - 30_001);
    const future = tx.seal(B, ping, NOW + 30_001);
    const edge = tx.seal(B, ping, NOW - 30_000);
    assert.ok(old && future && edge);
    assert.deepEqual(rx.open(old, NOW), { ok: false, reason: 'stale' });
    assert.deepEqual(rx.open(future, NOW), { ok: false, reason: 'stale' });
    assert.equal(rx.open(edge, NOW).ok, true);
    // A stale frame's counter was not committed: the window did not move.
    assert.equal(rx.drops.stale, 2);
  });

  it('the sender refuses a message over the cap; the receiver drops an oversized frame before the MAC', () => {
    const tx = new BusSender(secret, A);
    const big: ClusterMessage = { type: 'peer', fromPeer: 'p', toPeer: 'q', message: { x: 'y'.repeat(MAX_BUS_FRAME) } };
    assert.equal(tx.seal(B, big, NOW), null);
    const next = tx.seal(B, ping, NOW);
    assert.ok(next);
    assert.equal(new BusReceiver(secret, B, T).open(next, NOW).ok, true, 'the refused message did not use up a counter the receiver needs');
    const rx = new BusReceiver(secret, B, T);
    assert.deepEqual(rx.open(Buffer.alloc(MAX_BUS_FRAME + 1), NOW), { ok: false, reason: 'too-big' });
  });

  it('a correctly MACed frame that is not a valid envelope is malformed (a secret holder with a bug), never a throw', () => {
    const rx = new BusReceiver(secret, B, T);
    const sealRaw = (json: string) => {
      const body = Buffer.from(json);
      return Buffer.concat([secret.mac('bus', [body]), body]);
    };
    assert.deepEqual(rx.open(sealRaw('{not json'), NOW), { ok: false, reason: 'malformed' });
    const env = { v: 1, from: 'a', fromInc: A.incarnation, to: 'b', toInc: B.incarnation, seq: 0, ts: NOW, msg: { type: 'ping', nonce: '1' } };
    assert.equal(rx.open(sealRaw(JSON.stringify(env)), NOW).ok, true);
    for (const bad of [{ ...env, seq: -1 }, { ...env, msg: { type: 'shout' } }, { ...env, extra: 1 }, { ...env, from: 'a b' }, { ...env, msg: { type: 'ping', nonce: 'x'.repeat(40) } }]) {
      assert.deepEqual(rx.open(sealRaw(JSON.stringify(bad)), NOW), { ok: false, reason: 'malformed' }, JSON.stringify(bad));
    }
    assert.deepEqual(rx.open(Buffer.alloc(MAC_BYTES), NOW), { ok: false, reason: 'malformed' });
  });

  it('random bytes never throw and never pass', () => {
    const rx = new BusReceiver(secret, B, T);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        assert.equal(rx.open(bytes, NOW).ok, false);
      }),
      { numRuns: 500 },
    );
    assert.equal(rx.accepted, 0);
  });
});

/** What reaches a session from the wire must authenticate, or it changes nothing. */
import { at } from '../../src/util/at.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DatagramPath } from '../../src/path/datagram-path.js';
import type { MuxStream } from '../../src/mux/index.js';
import { DEFAULT_REPLAY_WINDOW, PacketSealer, deriveSessionKeys } from '../../src/crypto/index.js';
import { SecureKcp, TunnelSession } from '../../src/session/index.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { digestOf, patternBytes, sha256 } from '../support/tunnel-pair.js';

/** A path that records what is sent and delivers it later, when the test says so. */
class CapturePath implements DatagramPath {
  readonly kind = 'memory' as const;
  readonly label = 'capture';
  readonly mtu = 1400;
  readonly sent: Buffer[] = [];
  send(packet: Uint8Array): void {
    this.sent.push(Buffer.from(packet));
  }
  close(): void {}
}

function sessions(keyA: Buffer, keyB: Buffer) {
  const scheduler = new VirtualScheduler(0);
  const a = new TunnelSession({ keys: deriveSessionKeys(keyA, 'initiator'), role: 'initiator', scheduler });
  const b = new TunnelSession({ keys: deriveSessionKeys(keyB, 'responder'), role: 'responder', scheduler });
  const toB = new CapturePath();
  const toA = new CapturePath();
  a.setPath(toB);
  b.setPath(toA);
  /** Delivers everything captured so far, in both directions, until quiet. */
  const exchange = async (rounds = 50) => {
    for (let i = 0; i < rounds && (toB.sent.length > 0 || toA.sent.length > 0); i++) {
      for (const p of toB.sent.splice(0)) b.receive(p, toA);
      for (const p of toA.sent.splice(0)) a.receive(p, toB);
      await scheduler.advance(5);
    }
  };
  return { scheduler, a, b, toA, toB, exchange };
}

test('tampered, truncated and replayed packets are dropped without effect', async () => {
  const key = randomBytes(32);
  const s = sessions(key, key);
  const streams: MuxStream[] = [];
  s.b.on('stream', (st: MuxStream) => streams.push(st));
  const data = patternBytes(9, 4000);
  const opened = s.a.openStream();
  opened.write(data);
  await s.scheduler.advance(1);
  const originals = s.toB.sent.splice(0);
  assert.ok(originals.length > 0, 'the opener should have sent packets');

  // Every single-byte flip, every truncation and a replay: all refused.
  let forged = 0;
  for (const p of originals) {
    for (let i = 0; i < p.length; i += 7) {
      const bad = Buffer.from(p);
      bad[i] = at(bad, i) ^ (0x01 << (i % 8));
      s.b.receive(bad, s.toA);
      forged++;
    }
    for (const len of [0, 1, 8, 9, 24, 25, p.length - 1]) {
      s.b.receive(p.subarray(0, len), s.toA);
      forged++;
    }
  }
  await s.scheduler.advance(50);
  assert.equal(s.b.stats.packetsDropped, forged);
  assert.equal(s.b.stats.packetsIn, 0);
  assert.equal(streams.length, 0, 'no stream may appear from forged packets');
  assert.equal(s.toA.sent.length, 0, 'forged packets must not even be acknowledged');

  // The genuine packets still work afterwards, once; their replay is refused.
  for (const p of originals) s.b.receive(p, s.toA);
  for (const p of originals) s.b.receive(p, s.toA);
  assert.equal(s.b.stats.packetsIn, originals.length);
  assert.equal(s.b.stats.packetsDropped, forged + originals.length);
  await s.scheduler.advance(1);
  assert.equal(streams.length, 1);
  const got = digestOf(streams[0]!);
  opened.end();
  await s.exchange();
  assert.ok(got.done());
  assert.equal(got.result().sha256, sha256(data));
  s.a.close();
  s.b.close();
});

test('a peer with the wrong key never yields data', async () => {
  const s = sessions(randomBytes(32), randomBytes(32));
  let streams = 0;
  s.b.on('stream', () => streams++);
  const opened = s.a.openStream();
  opened.end(patternBytes(3, 50_000));
  await s.exchange(20);
  await s.scheduler.advance(5_000);
  await s.exchange(20);
  assert.equal(streams, 0);
  assert.equal(s.b.stats.packetsIn, 0);
  assert.ok(s.b.stats.packetsDropped > 0);
  s.a.close();
  s.b.close();
});

test('a session\'s replay window is DEFAULT_REPLAY_WINDOW: one packet that far behind the newest is too old, one less is not', () => {
  const keys = deriveSessionKeys(randomBytes(32), 'responder');
  // Seals as the peer would: with the key this side opens with.
  const sealer = new PacketSealer(keys.recvKey);
  const core = new SecureKcp({ keys, conv: 1, packetMtu: 1400, onPacket: () => {} });
  const packets = Array.from({ length: DEFAULT_REPLAY_WINDOW + 2 }, () => sealer.seal(Buffer.from('not kcp')));
  const newest = packets.length - 1;
  core.receive(packets[newest]!, 0);
  core.receive(packets[newest - DEFAULT_REPLAY_WINDOW]!, 0);
  core.receive(packets[newest - (DEFAULT_REPLAY_WINDOW - 1)]!, 0);
  assert.equal(core.opener.stats.tooOld, 1);
  assert.equal(core.opener.stats.accepted, 2);
});

/**
 * A session's unreliable datagrams (a UDP service's): whole or not at all,
 * beside the streams and never behind them, on a direct path as packets of
 * their own and on the relay as records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deriveSessionKeys, PacketSealer, SEALED_OVERHEAD } from '../../src/crypto/index.js';
import type { BurrowError } from '../../src/errors.js';
import type { Role } from '../../src/role.js';
import type { DatagramPath, PathReceiver } from '../../src/path/datagram-path.js';
import { MAX_UDP_PAYLOAD, TunnelSession } from '../../src/session/index.js';
import { PacketKind } from '../../src/wire/packet-kind.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { memoryRecordLink } from '../../netsim/memory-record-path.js';
import { RecordSealer } from '../../src/crypto/record-sealer.js';
import { deriveDatagramKeys, deriveRecordKeys } from '../../src/crypto/derived-keys.js';
import { encodeDatagramHeader } from '../../src/session/resume-frame.js';
import type { MuxStream } from '../../src/mux/index.js';
import { patternBytes, writeAll } from '../support/tunnel-pair.js';

/** A direct path with a fixed delay that can be told to lose every packet of one kind. */
class FilteredPath implements DatagramPath {
  readonly kind = 'memory' as const;
  readonly label: string;
  peer: FilteredPath | null = null;
  receiver: PathReceiver | null = null;
  /** Packets whose first byte is in here are lost. */
  readonly lose = new Set<number>();
  /** Every packet sent, for replay tests. */
  readonly sentPackets: Buffer[] = [];

  constructor(
    private readonly scheduler: VirtualScheduler,
    label: string,
    readonly mtu = 1400,
  ) {
    this.label = label;
  }

  send(packet: Uint8Array): void {
    const copy = Buffer.from(packet);
    this.sentPackets.push(copy);
    if (this.lose.has(copy[0] ?? -1)) return;
    const peer = this.peer;
    this.scheduler.at(this.scheduler.now() + 5, () => peer?.receiver?.(copy, peer));
  }

  close(): void {
    this.peer = null;
  }
}

function pair(mtu = 1400) {
  const scheduler = new VirtualScheduler(0);
  const key = randomBytes(32);
  const make = (role: Role) => new TunnelSession({ keys: deriveSessionKeys(key, role), role, scheduler, idleTimeoutMs: 0 });
  const a = make('initiator');
  const b = make('responder');
  const pa = new FilteredPath(scheduler, 'a', mtu);
  const pb = new FilteredPath(scheduler, 'b', mtu);
  pa.peer = pb;
  pb.peer = pa;
  pa.receiver = a.receive;
  pb.receiver = b.receive;
  const atA: Buffer[] = [];
  const atB: Buffer[] = [];
  a.on('datagram', (d: Buffer) => atA.push(Buffer.from(d)));
  b.on('datagram', (d: Buffer) => atB.push(Buffer.from(d)));
  return { scheduler, key, a, b, pa, pb, atA, atB, close: () => (a.close(), b.close()) };
}

test('direct path: datagrams arrive whole both ways, up to the limit the path sets; larger ones are refused, never split', async () => {
  const p = pair(1400);
  try {
    assert.equal(p.a.sendDatagram(Buffer.from('early')), 'no-path');
    assert.equal(p.a.datagramLimit, 0);
    p.a.setPath(p.pa);
    p.b.setPath(p.pb);
    assert.equal(p.a.datagramLimit, 1400 - SEALED_OVERHEAD);
    const sizes = [0, 1, 100, 1000, p.a.datagramLimit];
    const sent = sizes.map((n, i) => patternBytes(i + 1, n));
    for (const d of sent) assert.equal(p.a.sendDatagram(d), 'sent');
    for (const d of sent) assert.equal(p.b.sendDatagram(d), 'sent');
    assert.equal(p.a.sendDatagram(Buffer.alloc(p.a.datagramLimit + 1)), 'too-big');
    await p.scheduler.advance(50);
    assert.deepEqual(p.atB, sent);
    assert.deepEqual(p.atA, sent);
    assert.equal(p.a.stats.datagramsOut, sizes.length);
    assert.equal(p.b.stats.datagramsIn, sizes.length);
    // Every datagram was a packet of its own kind, no bigger than the path's MTU.
    const dgrams = p.pa.sentPackets.filter((x) => x[0] === PacketKind.Datagram);
    assert.equal(dgrams.length, sizes.length);
    assert.ok(dgrams.every((x) => x.length <= 1400));
  } finally {
    p.close();
  }
  assert.equal(p.a.sendDatagram(Buffer.from('late')), 'closed');
});

test('a same-host path with 16 KiB packets carries 16 KiB datagrams', async () => {
  const p = pair(16 * 1024);
  try {
    p.a.setPath(p.pa);
    p.b.setPath(p.pb);
    const big = patternBytes(9, p.a.datagramLimit);
    assert.equal(big.length, 16 * 1024 - SEALED_OVERHEAD);
    assert.equal(p.a.sendDatagram(big), 'sent');
    await p.scheduler.advance(20);
    assert.deepEqual(p.atB, [big]);
  } finally {
    p.close();
  }
});

test('datagrams never wait behind a stream: with every KCP packet lost, they still arrive', async () => {
  const p = pair();
  try {
    p.a.setPath(p.pa);
    p.b.setPath(p.pb);
    p.pa.lose.add(PacketKind.Session);
    const stream = p.a.openStream();
    void writeAll(stream, patternBytes(3, 256 * 1024)).catch(() => {});
    let streamBytes = 0;
    p.b.on('stream', (s: MuxStream) => s.on('data', (c: Buffer) => (streamBytes += c.length)));
    for (let i = 0; i < 50; i++) {
      assert.equal(p.a.sendDatagram(Buffer.from(`datagram ${i}`)), 'sent');
      await p.scheduler.advance(10);
    }
    await p.scheduler.advance(50);
    assert.equal(streamBytes, 0, 'the stream is stuck: KCP is lost');
    assert.equal(p.atB.length, 50);
    assert.equal(p.atB[49]?.toString(), 'datagram 49');
  } finally {
    p.close();
  }
});

test('a forged, tampered or replayed datagram packet is dropped and counted; the session carries on', async () => {
  const p = pair();
  try {
    p.a.setPath(p.pa);
    p.b.setPath(p.pb);
    assert.equal(p.a.sendDatagram(Buffer.from('real')), 'sent');
    await p.scheduler.advance(20);
    const real = p.pa.sentPackets.find((x) => x[0] === PacketKind.Datagram);
    assert.ok(real);
    assert.equal(p.b.receive(Buffer.from(real)), false, 'a replay is refused');
    const tampered = Buffer.from(real);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    assert.equal(p.b.receive(tampered), false, 'a tampered packet is refused');
    // Sealed with the session's packet key (KCP's) rather than the datagram key: not ours.
    const keys = deriveSessionKeys(p.key, 'initiator');
    const wrongKey = new PacketSealer(keys.sendKey, { aead: keys.aead, kind: PacketKind.Datagram }).seal(Buffer.from('x'));
    assert.equal(p.b.receive(wrongKey), false);
    // The right datagram key does open (the test's sealer is an honest one).
    const own = deriveDatagramKeys(keys);
    const honest = new PacketSealer(own.sendKey, { aead: keys.aead, kind: PacketKind.Datagram });
    for (let i = 0; i < 5; i++) honest.seal(Buffer.alloc(0)); // past the counters a already used
    assert.equal(p.b.receive(honest.seal(Buffer.from('honest'))), true);
    assert.equal(p.b.stats.datagramsDropped, 3);
    assert.deepEqual(p.atB.map(String), ['real', 'honest']);
    assert.equal(p.b.closed, false);
  } finally {
    p.close();
  }
});

test('relay: datagrams travel as records, in order, up to 64 KiB; a back-pressured relay drops them instead of queueing', async () => {
  const scheduler = new VirtualScheduler(0);
  const key = randomBytes(32);
  const make = (role: Role) => new TunnelSession({ keys: deriveSessionKeys(key, role), role, scheduler, idleTimeoutMs: 0 });
  const a = make('initiator');
  const b = make('responder');
  const relay = memoryRecordLink(scheduler, { delayMs: 5, bytesPerSec: 10e6, markBytes: 256 * 1024 });
  relay.a.bind(a.receiveRecord);
  relay.b.bind(b.receiveRecord);
  a.setPath(relay.a);
  b.setPath(relay.b);
  const atB: Buffer[] = [];
  b.on('datagram', (d: Buffer) => atB.push(Buffer.from(d)));
  try {
    assert.equal(a.datagramLimit, MAX_UDP_PAYLOAD);
    const max = patternBytes(5, MAX_UDP_PAYLOAD);
    assert.equal(a.sendDatagram(max), 'sent');
    assert.equal(a.sendDatagram(Buffer.alloc(MAX_UDP_PAYLOAD + 1)), 'too-big');
    await scheduler.advance(50);
    assert.deepEqual(atB, [max]);

    // Offer far more than the relay carries: some go, the rest are refused at once, nothing queues past the mark.
    const results = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const r = a.sendDatagram(patternBytes(i, 8000));
      results.set(r, (results.get(r) ?? 0) + 1);
    }
    const sent = results.get('sent') ?? 0;
    assert.ok((results.get('congested') ?? 0) > 0, `some refused: ${[...results]}`);
    assert.ok(sent * 8000 <= 256 * 1024 + 8000 * 2, `no more than the mark was queued: ${sent}`);
    await scheduler.advance(1000);
    assert.equal(atB.length, 1 + sent, 'every datagram the relay took arrived');
    // Drained: datagrams go again.
    assert.equal(a.sendDatagram(Buffer.from('after')), 'sent');
    await scheduler.advance(50);
    assert.equal(atB.at(-1)?.toString(), 'after');
  } finally {
    a.close();
    b.close();
  }
});

test('relay: an honest record holding a DATAGRAM frame is delivered; a frame that overruns its record closes the session', async () => {
  // The relay side first: an honest record holding a DATAGRAM frame is delivered.
  const scheduler = new VirtualScheduler(0);
  const key = randomBytes(32);
  const b = new TunnelSession({ keys: deriveSessionKeys(key, 'responder'), role: 'responder', scheduler, idleTimeoutMs: 0 });
  const relay = memoryRecordLink(scheduler, {});
  relay.b.bind(b.receiveRecord);
  b.setPath(relay.b);
  const got: string[] = [];
  b.on('datagram', (d: Buffer) => got.push(d.toString()));
  const aKeys = deriveRecordKeys(deriveSessionKeys(key, 'initiator'));
  const sealer = new RecordSealer(aKeys.sendKey, { aead: aKeys.aead });
  const payload = Buffer.from('over the relay');
  b.receiveRecord(sealer.seal([encodeDatagramHeader(payload.length), payload]), relay.b);
  assert.deepEqual(got, ['over the relay']);
  let closedWith: BurrowError | undefined;
  b.on('close', (e?: BurrowError) => (closedWith = e));
  // A record whose DATAGRAM frame says more than it holds: the record ends inside a frame.
  b.receiveRecord(sealer.seal([encodeDatagramHeader(100), Buffer.from('short')]), relay.b);
  assert.equal(closedWith?.code, 'ERR_SESSION_PROTOCOL');
  b.close();
});

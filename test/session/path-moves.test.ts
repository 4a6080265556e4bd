/**
 * A session on the relay (sealed records, no ARQ) and on direct paths (KCP
 * datagrams), moving between them live: every byte arrives once, in order,
 * whatever either transport had in flight when the session left it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MuxStream } from '../../src/mux/index.js';
import { deriveSessionKeys } from '../../src/crypto/index.js';
import type { BurrowError } from '../../src/errors.js';
import type { Role } from '../../src/role.js';
import { TunnelSession, type TunnelSessionOptions } from '../../src/session/index.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { VirtualLink, type LinkProfile } from '../../netsim/link.js';
import { SeededRandom } from '../../netsim/random.js';
import { MemoryPath } from '../../netsim/memory-path.js';
import { memoryRecordLink, type RecordLinkProfile } from '../../netsim/memory-record-path.js';
import { RecordSealer } from '../../src/crypto/record-sealer.js';
import { deriveRecordKeys } from '../../src/crypto/derived-keys.js';
import { encodeAck, encodeData } from '../../src/session/resume-frame.js';
import { digestOf, patternBytes, sha256, writeAll } from '../support/tunnel-pair.js';

interface Pair {
  scheduler: VirtualScheduler;
  a: TunnelSession;
  b: TunnelSession;
  relay: ReturnType<typeof memoryRecordLink>;
  /** A fresh direct path for both ends (not yet in use). */
  direct(profile: LinkProfile, seed: number): { link: VirtualLink; pa: MemoryPath; pb: MemoryPath };
  close(): void;
}

function relayPair(relayProfile: RecordLinkProfile, session: Partial<TunnelSessionOptions> = {}): Pair {
  const scheduler = new VirtualScheduler(0);
  const key = randomBytes(32);
  const make = (role: Role) =>
    new TunnelSession({ ...session, keys: deriveSessionKeys(key, role), role, scheduler, idleTimeoutMs: 0 });
  const a = make('initiator');
  const b = make('responder');
  const relay = memoryRecordLink(scheduler, relayProfile);
  relay.a.bind(a.receiveRecord);
  relay.b.bind(b.receiveRecord);
  a.setPath(relay.a);
  b.setPath(relay.b);
  return {
    scheduler,
    a,
    b,
    relay,
    direct(profile, seed) {
      const link = new VirtualLink(scheduler, new SeededRandom(seed), profile);
      return {
        link,
        pa: new MemoryPath(link.a, `direct a ${seed}`).bind(a.receive),
        pb: new MemoryPath(link.b, `direct b ${seed}`).bind(b.receive),
      };
    },
    close() {
      a.close();
      b.close();
    },
  };
}

/** One stream each way, `size` bytes each, read to the end and hashed. */
function bothWays(p: Pair, size: number) {
  const ab = patternBytes(11, size);
  const ba = patternBytes(12, size);
  const atB: Array<ReturnType<typeof digestOf>> = [];
  const atA: Array<ReturnType<typeof digestOf>> = [];
  p.b.on('stream', (s: MuxStream) => {
    atB.push(digestOf(s));
    void writeAll(s, ba);
  });
  const opened = p.a.openStream();
  atA.push(digestOf(opened));
  void writeAll(opened, ab);
  return {
    done: () => atA[0]?.done() === true && atB[0]?.done() === true,
    check() {
      assert.deepEqual(atB[0]?.result(), { bytes: size, sha256: sha256(ab) }, 'a -> b');
      assert.deepEqual(atA[0]?.result(), { bytes: size, sha256: sha256(ba) }, 'b -> a');
    },
    receivedByB: () => atB[0]?.result().bytes ?? 0,
  };
}

test('the relay carries a session as sealed records: both ways byte-exact, no KCP at all', async () => {
  const p = relayPair({ delayMs: 5, bytesPerSec: 50e6 });
  try {
    const t = bothWays(p, 8 * 1024 * 1024);
    assert.ok(await p.scheduler.runUntil(t.done, { maxTime: 120_000 }), 'the transfer must finish');
    t.check();
    assert.equal(p.a.kcpStats.datagramsOut, 0, 'no KCP datagram on a relay-only session');
    assert.equal(p.a.stats.kcpEpochs, 0);
    // 8 MiB in records of at most 128 KiB of stream each, plus ACK-only records.
    assert.ok(p.relay.a.sent >= 64 && p.relay.a.sent < 400, `records a -> b: ${p.relay.a.sent}`);
  } finally {
    p.close();
  }
});

test('relay -> direct -> relay -> direct, live, under loss, sides switching at different moments: byte-exact both ways', async () => {
  const p = relayPair({ delayMs: 20, bytesPerSec: 20e6 });
  try {
    const size = 24 * 1024 * 1024;
    const t = bothWays(p, size);
    await p.scheduler.runUntil(() => t.receivedByB() > 2 * 1024 * 1024, { maxTime: 60_000 });

    // A punched path appears: a sees it 30 ms before b does.
    const d1 = p.direct({ delayMs: 4, loss: 0.02, bandwidthBytesPerSec: 40e6, queueBytes: 4 * 1024 * 1024 }, 7);
    p.a.setPath(d1.pa);
    await p.scheduler.advance(30);
    p.b.setPath(d1.pb);
    const onRelay = p.relay.a.sent;
    await p.scheduler.runUntil(() => t.receivedByB() > 9 * 1024 * 1024, { maxTime: 600_000 });
    assert.ok(p.a.stats.kcpEpochs === 1 && p.b.stats.kcpEpochs === 1, 'one KCP epoch, whoever started it');

    // The direct path dies with data in flight; b notices 200 ms after a.
    d1.link.a.up = false;
    d1.link.b.up = false;
    p.a.setPath(p.relay.a, { previousDied: true });
    await p.scheduler.advance(200);
    p.b.setPath(p.relay.b, { previousDied: true });
    await p.scheduler.runUntil(() => t.receivedByB() > 14 * 1024 * 1024, { maxTime: 600_000 });
    assert.ok(p.relay.a.sent > onRelay, 'the relay carried the session again');

    // A new direct path: a fresh KCP epoch, not the one that retransmitted into nothing.
    const d2 = p.direct({ delayMs: 3, loss: 0.02, bandwidthBytesPerSec: 40e6, queueBytes: 4 * 1024 * 1024 }, 8);
    p.b.setPath(d2.pb);
    await p.scheduler.advance(10);
    p.a.setPath(d2.pa);
    assert.ok(await p.scheduler.runUntil(t.done, { maxTime: 1_800_000 }), 'the transfer must finish');
    t.check();
    assert.equal(p.a.stats.kcpEpochs, 2);
    assert.equal(p.b.stats.kcpEpochs, 2);
    assert.ok(p.a.kcpStats.retransmits > 0, 'the lossy direct paths must have cost retransmissions');
    assert.equal(p.a.stats.pathSwitches, 3);
  } finally {
    p.close();
  }
});

test('when the relay goes quiet after records were arriving, the receiver says so once (a dead connection shows), then sleeps', async () => {
  const p = relayPair({ delayMs: 5 });
  try {
    const opened = p.a.openStream();
    let got: ReturnType<typeof digestOf> | null = null;
    p.b.on('stream', (s: MuxStream) => (got = digestOf(s)));
    opened.write(patternBytes(4, 300_000));
    await p.scheduler.runUntil(() => got !== null && got.result().bytes === 300_000, { maxTime: 10_000 });
    await p.scheduler.advance(100);
    const before = p.relay.b.sent;
    await p.scheduler.advance(1_500);
    assert.equal(p.relay.b.sent, before + 1, 'one record within 1.5 s of the last one arriving');
    const aSent = p.relay.a.sent;
    await p.scheduler.advance(8_000);
    assert.equal(p.relay.b.sent, before + 1, 'and nothing more while the relay stays quiet');
    assert.ok(p.relay.a.sent <= aSent + 1, 'the probe is not answered by a probe: no ping-pong');
  } finally {
    p.close();
  }
});

test('a slow relay holds the writer back: what a session keeps unacknowledged stays under its capacity', async () => {
  const capacity = 2 * 1024 * 1024;
  const p = relayPair({ delayMs: 30, bytesPerSec: 2e6, markBytes: 256 * 1024 }, { ledger: { capacity } });
  try {
    const opened = p.a.openStream();
    let got: ReturnType<typeof digestOf> | null = null;
    p.b.on('stream', (s: MuxStream) => (got = digestOf(s)));
    const data = patternBytes(3, 12 * 1024 * 1024);
    void writeAll(opened, data);
    let most = 0;
    const ok = await p.scheduler.runUntil(
      () => {
        most = Math.max(most, p.a.stats.unacknowledgedBytes);
        return got !== null && got.done();
      },
      { maxTime: 60_000 },
    );
    assert.ok(ok, 'the transfer must finish');
    assert.deepEqual(got!.result(), { bytes: data.length, sha256: sha256(data) });
    assert.ok(most > capacity / 2, `the ledger was used (${most} bytes at most)`);
    assert.ok(most <= capacity + 256 * 1024, `kept at most ${most} bytes for a ${capacity}-byte capacity`);
    await p.scheduler.advance(1000);
    assert.equal(p.a.stats.unacknowledgedBytes, 0, 'everything acknowledged at the end');
  } finally {
    p.close();
  }
});

test('a record the relay altered closes that path and delivers nothing; the session carries on over a direct path', async () => {
  const p = relayPair({ delayMs: 5 });
  try {
    const d = p.direct({ delayMs: 2 }, 3);
    // Tamper with every record b receives from now on.
    const original = p.b.receiveRecord;
    p.relay.b.bind((record, path) => {
      const bad = Buffer.from(record);
      bad[bad.length - 1] = (bad.at(-1) ?? 0) ^ 1;
      original(bad, path);
    });
    const t = bothWays(p, 256 * 1024);
    await p.scheduler.advance(50);
    assert.ok(p.relay.b.isClosed, 'the tampered relay must be closed');
    assert.ok(p.b.stats.packetsDropped > 0);
    assert.equal(t.receivedByB(), 0, 'nothing from a tampered record may be delivered');
    p.a.setPath(d.pa, { previousDied: true });
    p.b.setPath(d.pb, { previousDied: true });
    assert.ok(await p.scheduler.runUntil(t.done, { maxTime: 60_000 }));
    t.check();
  } finally {
    p.close();
  }
});

for (const [what, frame] of [
  ['DATA beyond what was delivered', () => encodeData(100, Buffer.from('skips ahead'))],
  ['an ACK beyond what was sent', () => encodeAck(1)],
] as const) {
  test(`an authentic peer that sends ${what} ends the session with ERR_SESSION_PROTOCOL`, async () => {
    const scheduler = new VirtualScheduler(0);
    const key = randomBytes(32);
    const b = new TunnelSession({ keys: deriveSessionKeys(key, 'responder'), role: 'responder', scheduler, idleTimeoutMs: 0 });
    const relay = memoryRecordLink(scheduler, { delayMs: 1 });
    relay.b.bind(b.receiveRecord);
    b.setPath(relay.b);
    let closedWith: BurrowError | undefined | null = null;
    b.on('close', (e?: BurrowError) => (closedWith = e));
    // Sealed as the initiator would: authentic, and broken inside.
    const sealer = new RecordSealer(deriveRecordKeys(deriveSessionKeys(key, 'initiator')).sendKey);
    b.receiveRecord(sealer.seal(frame()), relay.b);
    await scheduler.advance(10);
    assert.equal((closedWith as BurrowError | null)?.code, 'ERR_SESSION_PROTOCOL');
    assert.ok(b.closed);
  });
}

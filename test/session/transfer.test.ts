/**
 * The whole transport stack (KCP + mux + sealed packets) on a fake clock over
 * an impaired in-memory link: bytes must arrive exact, whatever the link does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MuxStream } from '../../src/mux/index.js';
import type { LinkProfile } from '../../netsim/link.js';
import { digestOf, patternBytes, sha256, tunnelPair, writeAll } from '../support/tunnel-pair.js';

const MB = 1024 * 1024;
const SIZE = Number(process.env.BURROW_TEST_TRANSFER_MB ?? 64) * MB;

const profiles: { name: string; profile: LinkProfile }[] = [
  { name: 'clean link, 5 ms', profile: { delayMs: 5 } },
  { name: '10 % loss', profile: { delayMs: 10, loss: 0.1 } },
  { name: '30 % loss', profile: { delayMs: 10, loss: 0.3 } },
  { name: '20 % duplication', profile: { delayMs: 10, duplicate: 0.2 } },
  { name: 'reordering (15 % held back 25 ms)', profile: { delayMs: 10, reorder: 0.15, reorderDelayMs: 25 } },
  { name: 'jitter 0-30 ms', profile: { delayMs: 5, jitterMs: 30 } },
  { name: 'MTU 1200 with loss, duplication and jitter', profile: { delayMs: 8, jitterMs: 10, loss: 0.05, duplicate: 0.05, mtu: 1200 } },
];

for (const { name, profile } of profiles) {
  test(`${SIZE / MB} MB byte-exact both ways: ${name}`, async () => {
    const pair = tunnelPair(profile, { seed: 7 });
    try {
      const up = patternBytes(1, SIZE);
      const down = patternBytes(2, SIZE / 4);
      const opened = pair.initiator.openStream();
      let accepted: MuxStream | null = null;
      let upResult: ReturnType<typeof digestOf> | null = null;
      pair.responder.on('stream', (s: MuxStream) => {
        accepted = s;
        upResult = digestOf(s);
        void writeAll(s, down);
      });
      const downResult = digestOf(opened);
      void writeAll(opened, up);
      const ok = await pair.scheduler.runUntil(() => downResult.done() && upResult !== null && upResult.done(), {
        maxTime: 3_600_000,
      });
      assert.ok(ok, 'transfer did not finish within an hour of virtual time');
      assert.ok(accepted);
      assert.deepEqual(upResult!.result(), { bytes: up.length, sha256: sha256(up) });
      assert.deepEqual(downResult.result(), { bytes: down.length, sha256: sha256(down) });
      if (profile.loss) assert.ok(pair.initiator.kcpStats.retransmits > 0, 'a lossy link must cause retransmissions');
    } finally {
      pair.close();
    }
  });
}

test('1000 concurrent streams, 64 MB in all each way, each byte-exact, over a lossy link', async () => {
  const pair = tunnelPair({ delayMs: 10, jitterMs: 5, loss: 0.05 }, { seed: 11 });
  try {
    const STREAMS = 1000;
    const results = new Map<number, ReturnType<typeof digestOf>>();
    const expected = new Map<number, string>();
    pair.responder.on('stream', (s: MuxStream) => {
      // Each stream echoes its bytes back, so both directions are exercised.
      s.pipe(s);
    });
    for (let i = 0; i < STREAMS; i++) {
      const data = patternBytes(1000 + i, 64 * 1024 + ((i * 7919) % 4096));
      const s = pair.initiator.openStream();
      expected.set(s.id, sha256(data));
      results.set(s.id, digestOf(s));
      void writeAll(s, data, 16 * 1024);
    }
    const ok = await pair.scheduler.runUntil(() => [...results.values()].every((r) => r.done()), { maxTime: 3_600_000 });
    assert.ok(ok, 'not every stream finished');
    for (const [id, r] of results) assert.equal(r.result().sha256, expected.get(id), `stream ${id}`);
  } finally {
    pair.close();
  }
});

test(`${SIZE / MB} MB byte-exact while sequence numbers and the clock both wrap past 2^32`, async () => {
  const pair = tunnelPair(
    { delayMs: 10, loss: 0.1, jitterMs: 5 },
    { seed: 3, startTime: 2 ** 32 - 1_000, session: { kcp: { initialSn: 2 ** 32 - 50 } } },
  );
  try {
    const data = patternBytes(5, SIZE);
    const opened = pair.initiator.openStream();
    let got: ReturnType<typeof digestOf> | null = null;
    pair.responder.on('stream', (s: MuxStream) => {
      got = digestOf(s);
      s.resume();
      s.end();
    });
    void writeAll(opened, data);
    opened.resume();
    const ok = await pair.scheduler.runUntil(() => got !== null && got.done(), { maxTime: 2 ** 32 + 3_600_000 });
    assert.ok(ok);
    assert.equal(got!.result().sha256, sha256(data));
    assert.ok(pair.scheduler.now() > 2 ** 32, 'the clock should have passed 2^32 ms');
  } finally {
    pair.close();
  }
});

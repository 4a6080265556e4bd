/** Dead links, path moves and clean shutdown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MuxStream } from '../../src/mux/index.js';
import type { BurrowError } from '../../src/errors.js';
import { VirtualLink } from '../../netsim/link.js';
import { SeededRandom } from '../../netsim/random.js';
import { MemoryPath } from '../../netsim/memory-path.js';
import { digestOf, patternBytes, sha256, tunnelPair, writeAll } from '../support/tunnel-pair.js';

for (const busy of [true, false]) {
  test(`a vanished peer is reported within the configured time (${busy ? 'data in flight' : 'idle'})`, async () => {
    const IDLE_TIMEOUT = 5_000;
    const pair = tunnelPair({ delayMs: 10 }, { session: { idleTimeoutMs: IDLE_TIMEOUT } });
    let closedWith: BurrowError | undefined | null = null;
    let closedAt = 0;
    pair.initiator.on('close', (err?: BurrowError) => {
      closedWith = err;
      closedAt = pair.scheduler.now();
    });
    const stream = pair.initiator.openStream();
    let streamError: Error | null = null;
    stream.on('error', (e: Error) => (streamError = e));
    pair.responder.on('stream', (s: MuxStream) => {
      s.on('error', () => {}); // the responder times out too; its stream errors
      s.resume();
    });
    stream.write(patternBytes(1, 10_000));
    await pair.scheduler.advance(200);

    pair.link.b.up = false; // the responder's machine is gone
    const vanishedAt = pair.scheduler.now();
    if (busy) stream.write(patternBytes(2, 5 * 1024 * 1024));
    const ok = await pair.scheduler.runUntil(() => closedWith !== null, { maxTime: vanishedAt + 120_000 });
    assert.ok(ok, 'the session never noticed the peer was gone');
    assert.equal((closedWith as BurrowError | null)?.code, 'ERR_SESSION_DEAD');
    assert.ok(closedAt - vanishedAt <= IDLE_TIMEOUT + 1, `noticed after ${closedAt - vanishedAt} ms`);
    assert.ok(pair.initiator.closed);
    assert.equal(pair.initiator.mux.streamCount, 0, 'streams must be freed');
    await pair.scheduler.advance(1);
    assert.ok(streamError !== null || stream.destroyed, 'open streams must be torn down');
    pair.close();
    await pair.scheduler.advance(100_000);
    assert.equal(pair.scheduler.pending, 0, 'no timer may outlive a closed session');
  });
}

test('a live session moves to another path with no byte lost or duplicated', async () => {
  const pair = tunnelPair({ delayMs: 40, loss: 0.02 }, { seed: 5 });
  try {
    const data = patternBytes(8, 16 * 1024 * 1024);
    const opened = pair.initiator.openStream();
    let got: ReturnType<typeof digestOf> | null = null;
    pair.responder.on('stream', (s: MuxStream) => {
      got = digestOf(s);
      s.end();
    });
    opened.resume();
    void writeAll(opened, data);
    await pair.scheduler.runUntil(() => got !== null && got.result().bytes > 0 && pair.initiator.stats.packetsOut > 3000);

    // A faster second link appears (say, a punched direct path); both ends move, the old one dies.
    const direct = new VirtualLink(pair.scheduler, new SeededRandom(99), { delayMs: 2 });
    pair.initiator.setPath(new MemoryPath(direct.a, 'direct a').bind(pair.initiator.receive));
    pair.responder.setPath(new MemoryPath(direct.b, 'direct b').bind(pair.responder.receive));
    const beforeSwitch = direct.a.stats.sent;
    pair.link.a.up = false;
    pair.link.b.up = false;

    const ok = await pair.scheduler.runUntil(() => got!.done(), { maxTime: pair.scheduler.now() + 600_000 });
    assert.ok(ok);
    assert.deepEqual(got!.result(), { bytes: data.length, sha256: sha256(data) });
    assert.ok(direct.a.stats.sent > beforeSwitch);
    assert.equal(pair.initiator.stats.pathSwitches, 1);
  } finally {
    pair.close();
  }
});

test('readers that stall on many streams cannot grow memory past the session receive budget', async () => {
  const BUDGET = 8 * 1024 * 1024;
  const pair = tunnelPair({ delayMs: 5 }, { seed: 21, session: { receiveBudget: BUDGET } });
  try {
    const STREAMS = 40;
    const PER_STREAM = 1024 * 1024; // 40 MiB in all: five times the budget
    const accepted: MuxStream[] = [];
    pair.responder.on('stream', (s: MuxStream) => {
      s.pause(); // nobody reads
      accepted.push(s);
    });
    const datas = Array.from({ length: STREAMS }, (_, i) => patternBytes(300 + i, PER_STREAM));
    const writers = datas.map((d) => {
      const s = pair.initiator.openStream();
      s.on('error', () => {});
      void writeAll(s, d);
      return s;
    });
    let peak = 0;
    await pair.scheduler.runUntil(() => {
      peak = Math.max(peak, pair.responder.mux.receiveBuffered);
      return false;
    }, { maxTime: pair.scheduler.now() + 20_000 });
    assert.equal(accepted.length, STREAMS);
    // Over the budget by at most what one KCP read can return (its receive window).
    assert.ok(peak <= BUDGET + 2 * 1024 * 1024, `peak ${peak} bytes buffered`);
    assert.ok(peak > BUDGET / 2, 'the budget was actually reached');

    // Readers wake up: everything arrives, byte-exact.
    const results = accepted.map((s) => digestOf(s));
    for (const s of accepted) s.resume();
    const ok = await pair.scheduler.runUntil(() => results.every((r) => r.done()), { maxTime: pair.scheduler.now() + 600_000 });
    assert.ok(ok, 'transfers resume once readers read');
    const want = new Set(datas.map((d) => sha256(d)));
    for (const r of results) assert.ok(want.has(r.result().sha256));
    assert.equal(writers.length, STREAMS);
  } finally {
    pair.close();
  }
});

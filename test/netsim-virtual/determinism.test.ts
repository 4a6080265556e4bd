import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPunch } from './clash-scenario.js';

/** A lossy, jittery, duplicating, reordering punch. */
async function run(seed: number) {
  const r = await runPunch({
    seed,
    startB: 40,
    prime: true,
    probeDelayMs: 150,
    keep: true,
    wan: { delayMs: 10, jitterMs: 8, loss: 0.05, duplicate: 0.02, reorder: 0.05, reorderDelayMs: 7 },
    lan: { delayMs: 0.5, jitterMs: 0.5 },
  });
  const t = r.topo;
  return { trace: t.network.trace, events: t.scheduler.eventsRun, ok: r.a.ok && r.b.ok };
}

describe('determinism', () => {
  it('the same seed gives the same run, event for event; another seed differs', async () => {
    const one = await run(42);
    const two = await run(42);
    assert.ok(one.trace.events.length > 100);
    assert.deepEqual(two.trace.events, one.trace.events);
    assert.equal(two.trace.digest, one.trace.digest);
    assert.equal(two.events, one.events);
    const other = await run(43);
    assert.notEqual(other.trace.digest, one.trace.digest);
    // Events carry what the tests compare: time, kind, endpoints, size, payload hash, NAT decisions.
    const kinds = new Set(one.trace.events.map((e) => e.kind));
    for (const k of ['send', 'recv', 'nat-out', 'nat-in', 'nat-state', 'drop']) assert.ok(kinds.has(k as never), k);
    const send = one.trace.events.find((e) => e.kind === 'send')!;
    assert.equal(typeof send.hash, 'number');
    assert.ok(one.trace.events.some((e) => e.kind === 'nat-state' && e.note?.startsWith('mapping-created')));
  });

  it('recording can be turned off; the digest is still kept and equal', async () => {
    const full = await runPunch({ seed: 9, startB: 50 });
    const lean = await runPunch({ seed: 9, startB: 50, recordTrace: false });
    assert.equal(lean.topo.network.trace.events.length, 0);
    assert.equal(lean.topo.network.trace.digest, full.topo.network.trace.digest);
  });
});

/**
 * The Linux conntrack race (../shared/NETSIM-FACTS.md): two hosts behind
 * default masquerade NATs punching at each other. Whoever's probe reaches the
 * other NAT before that NAT's host has sent anything leaves an UNREPLIED
 * inbound entry there; the host's own outbound flow then clashes and gets
 * another public port, which the first NAT filters. TTL-2 priming opens each
 * NAT's own mapping first, so the peer's probe matches it instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../netsim/random.js';
import { runPunch } from './clash-scenario.js';

describe('conntrack clash between two port-restricted-cone (linux-masquerade) NATs', () => {
  it('fails when one side\'s probe reaches the other NAT before that side sends (B 50 ms late, path 20 ms)', async () => {
    const r = await runPunch({ seed: 1, startB: 50 });
    assert.equal(r.a.ok, false);
    assert.equal(r.b.ok, false);
    // NAT B saw A's probe first: unreplied entry, then B's flow clashed onto another port.
    const bNat = r.topo.site('b').nat!;
    assert.equal(bNat.table.stats.clashes, 1);
    const clash = r.topo.network.trace.events.find((e) => e.kind === 'nat-state' && e.note?.startsWith('clash'));
    assert.ok(clash && clash.node === 'b-nat', 'the clash is traced at NAT B');
    // B's packets left from another port than the rendezvous saw; A's NAT filtered them.
    assert.ok((r.topo.site('a').nat!.drops['filtered'] ?? 0) > 0);
    // A's retries keep hitting (and refreshing) the unreplied entry at NAT B.
    assert.ok((bNat.drops['unreplied-entry'] ?? 0) >= 15);
    const entries = bNat.table.unrepliedEntries(r.topo.scheduler.now());
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.externalPort, r.pubB.port);
    assert.ok(entries[0]!.expiresAt > r.lastProbeAt + 29_000, 'refreshed by the last probe');
  });

  it('succeeds when both first packets cross the core before either reaches the other NAT (skew 5 ms)', async () => {
    const r = await runPunch({ seed: 1, startB: 5 });
    assert.equal(r.a.ok, true);
    assert.equal(r.b.ok, true);
    assert.equal(r.topo.site('a').nat!.table.stats.clashes + r.topo.site('b').nat!.table.stats.clashes, 0);
  });

  it('fails with one side starting 300 ms late and no priming', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await runPunch({ seed, startB: 300 });
      assert.equal(r.a.ok || r.b.ok, false, `seed ${seed}`);
    }
  });

  it('plain simultaneous punching fails most of the time, depending on timing; TTL-2 priming first makes it succeed', async () => {
    const rng = new SeededRandom(99);
    let plainOk = 0;
    let primedOk = 0;
    const runs = 16;
    for (let i = 0; i < runs; i++) {
      // Start skew of the two processes: up to 250 ms either way.
      const skew = rng.int(-250, 250);
      const startA = Math.max(0, -skew);
      const startB = Math.max(0, skew);
      const wan = { delayMs: 10, jitterMs: 4 };
      const plain = await runPunch({ seed: 100 + i, startA, startB, wan });
      if (plain.a.ok && plain.b.ok) plainOk++;
      // Each side primes when it starts and probes 300 ms later.
      const primed = await runPunch({ seed: 100 + i, startA, startB, wan, prime: true, probeDelayMs: 300 });
      if (primed.a.ok && primed.b.ok) primedOk++;
    }
    assert.ok(plainOk <= runs / 4, `plain punching succeeded ${plainOk}/${runs}`);
    assert.equal(primedOk, runs);
  });

  it('TTL-2 priming succeeds with B 50 ms late, and with B probing 300 ms late after priming on the same signal', async () => {
    const r = await runPunch({ seed: 1, startB: 50, prime: true, probeDelayMs: 200 });
    assert.ok(r.a.ok && r.b.ok);
    assert.equal(r.topo.site('b').nat!.table.stats.clashes, 0);
    // Primes died in the core, never at the peer NAT.
    assert.equal(r.topo.core.drops['ttl-expired'], 6);
    const late = await runPunch({ seed: 2, prime: true, probeDelayMs: 0, probeDelayB: 300 });
    assert.ok(late.a.ok && late.b.ok);
  });

  it('model prediction: priming does not help a side whose primes leave after the peer\'s first probe arrived', async () => {
    // A primes and probes at once; B starts (primes) 300 ms later: NAT B already holds A's unreplied entry.
    const r = await runPunch({ seed: 1, startB: 300, prime: true, probeDelayMs: 0 });
    assert.equal(r.a.ok || r.b.ok, false);
    assert.equal(r.topo.site('b').nat!.table.stats.clashes, 1);
  });

  it('backing off longer than the unreplied timeout clears the bad entry; the next round succeeds', async () => {
    const r = await runPunch({ seed: 4, startB: 80, keep: true });
    assert.equal(r.a.ok || r.b.ok, false);
    const t = r.topo;
    await t.scheduler.advance(31_000);
    const again = await r.again(0, 0);
    assert.ok(again.a && again.b);
  });

  it('restricted-cone (kernel recipe also masquerade + conntrack) recovers when each side answers the observed source', async () => {
    const r = await runPunch({ seed: 1, startB: 50, nat: 'restricted-cone' });
    // B's flow clashed onto another port, but A's NAT filters by address only, so A hears B and answers that port.
    assert.equal(r.topo.site('b').nat!.table.stats.clashes, 1);
    assert.ok(r.a.ok && r.b.ok);
  });

  it('full-cone NATs admit the early probe (the mapping exists since registration), so nothing clashes', async () => {
    const r = await runPunch({ seed: 1, startB: 300, nat: 'full-cone' });
    assert.ok(r.a.ok && r.b.ok);
    assert.equal(r.topo.site('b').nat!.table.stats.clashes, 0);
  });
});

/**
 * The four TTL-priming cases measured on the kernel lane
 * (netsim/experiments/ttl-priming.ts, two plain-masquerade sites, 10 runs
 * each; the numbers are in netsim/virtual/README.md), replayed on the
 * in-process model with the kernel lab's geometry: a NAT-to-NAT path of a few
 * tens of microseconds, 3 primes at TTL 2, 10 probes every 50 ms, both sides
 * registered with the rendezvous first. The model must give the kernel's
 * outcome in each case:
 *
 *   a  both prime at t0, one probes 300 ms late        kernel 10/10 ok
 *   b  one side primes and probes 300 ms late          kernel 0/10 (the late side's flow clashes)
 *   c  no priming, 300 ms skew                         kernel 0/10 (clash)
 *   d  no priming, "no" skew                           kernel 1/10 (2/40 over three series): the two
 *      processes still fire 0.05-2 ms apart, more than the ~0.1 ms path; the successes had skews
 *      under 1 µs and 0.1 ms
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology, type Topology } from '../../netsim/virtual/index.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { Puncher, Rendezvous } from './helpers.js';

/** Offsets from the common signal t0, ms; primeAt null = no priming. */
interface Timing {
  primeAt: number | null;
  probeAt: number;
}

interface CaseResult {
  ok: boolean;
  topo: Topology;
  pub: Record<'a' | 'b', UdpEndpoint>;
  /** Each side heard the other on the peer's original (registered) public endpoint. */
  heardOriginal: Record<'a' | 'b', boolean>;
  clashes: Record<'a' | 'b', number>;
}

// The kernel lab's geometry: veth hops of ~10 µs; the server is as close as the peers.
const WAN = { delayMs: 0.01 };
const LAN = { delayMs: 0.005 };

async function punchCase(seed: number, timing: Record<'a' | 'b', Timing>): Promise<CaseResult> {
  const topo = buildTopology({
    seed,
    serverLink: WAN,
    sites: [
      { name: 'a', nat: 'port-restricted-cone', wan: WAN, lan: LAN },
      { name: 'b', nat: 'port-restricted-cone', wan: WAN, lan: LAN },
    ],
  });
  const sched = topo.scheduler;
  const rv = new Rendezvous(topo.server);
  const sock = { a: topo.site('a').host.bind({ port: 40000 }), b: topo.site('b').host.bind({ port: 50000 }) };
  const pub = { a: await rv.register(sched, 'a', sock.a), b: await rv.register(sched, 'b', sock.b) };
  const t0 = sched.now() + 100;
  const side = (me: 'a' | 'b', peer: 'a' | 'b'): Puncher => {
    const t = timing[me];
    const start = t.primeAt ?? t.probeAt;
    return new Puncher(sched, sock[me], pub[peer], me, {
      startAt: t0 + start,
      prime: t.primeAt !== null,
      probeDelayMs: t.probeAt - start,
      probes: 10,
      intervalMs: 50,
    });
  };
  const a = side('a', 'b');
  const b = side('b', 'a');
  a.start();
  b.start();
  const last = t0 + Math.max(timing.a.probeAt, timing.b.probeAt) + 10 * 50;
  await sched.runUntil(() => false, { maxTime: last + 400 });
  const heardOriginal = {
    a: a.receivedFrom.has(`${pub.b.address}:${pub.b.port}`),
    b: b.receivedFrom.has(`${pub.a.address}:${pub.a.port}`),
  };
  return {
    ok: heardOriginal.a && heardOriginal.b,
    topo,
    pub,
    heardOriginal,
    clashes: { a: topo.site('a').nat!.table.stats.clashes, b: topo.site('b').nat!.table.stats.clashes },
  };
}

/** B is the late side unless said otherwise. */
const early: Timing = { primeAt: 0, probeAt: 20 };

describe('TTL-2 priming against the conntrack clash: the kernel lane\'s four cases', () => {
  it('a: both prime at t0, one probes 300 ms late: succeeds, nothing clashes (kernel 10/10)', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await punchCase(seed, { a: early, b: { primeAt: 0, probeAt: 300 } });
      assert.ok(r.ok, `seed ${seed}`);
      assert.deepEqual(r.clashes, { a: 0, b: 0 });
      assert.equal(r.topo.core.drops['ttl-expired'], 6, 'all six primes died in the core');
    }
  });

  it('b: the late side primes and probes 300 ms late: fails, the late side\'s flow clashes (kernel 0/10)', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await punchCase(seed, { a: early, b: { primeAt: 300, probeAt: 320 } });
      assert.equal(r.heardOriginal.a || r.heardOriginal.b, false, `seed ${seed}`);
      assert.deepEqual(r.clashes, { a: 0, b: 1 });
      // As conntrack -L shows on the kernel: NAT B holds A's unreplied entry on B's original port.
      const now = r.topo.scheduler.now();
      const entries = r.topo.site('b').nat!.table.unrepliedEntries(now);
      assert.ok(entries.some((e) => e.remote === `${r.pub.a.address}:${r.pub.a.port}` && e.externalPort === r.pub.b.port));
    }
  });

  it('c: no priming, one side 300 ms late: fails with a clash on the late side (kernel 0/10)', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await punchCase(seed, { a: { primeAt: null, probeAt: 0 }, b: { primeAt: null, probeAt: 300 } });
      assert.equal(r.heardOriginal.a || r.heardOriginal.b, false, `seed ${seed}`);
      assert.deepEqual(r.clashes, { a: 0, b: 1 });
    }
  });

  it('d: no priming, both "at once": the kernel\'s measured start skews of 0.05-2 ms all fail; only a skew under the path delay succeeds', async () => {
    // Late side's first probe minus the early side's, as measured on the kernel lane (ms);
    // negative = A was the later one.
    const measured = [0.917, 1.54, -0.908, -0.185, 1.282, 1.062, 0.224, -0.783, -1.971, -1.161, 0.135, 1.452, -1.118, 0.067, -0.363, -0.399, 0.061, -0.048];
    for (const [i, skew] of measured.entries()) {
      const r = await punchCase(10 + i, {
        a: { primeAt: null, probeAt: Math.max(0, -skew) },
        b: { primeAt: null, probeAt: Math.max(0, skew) },
      });
      assert.equal(r.ok, false, `skew ${skew} ms`);
      assert.equal(r.clashes.a + r.clashes.b, 1, `skew ${skew} ms: exactly the later side clashes`);
      assert.equal(skew > 0 ? r.clashes.b : r.clashes.a, 1, `skew ${skew} ms`);
    }
    const together = await punchCase(99, { a: { primeAt: null, probeAt: 0 }, b: { primeAt: null, probeAt: 0 } });
    assert.ok(together.ok, 'both first packets in flight before either arrives: no clash');
    assert.deepEqual(together.clashes, { a: 0, b: 0 });
  });
});

/** The punch scenario shared by the clash and determinism tests. */
import type { LinkProfile } from '../../netsim/link.js';
import { buildTopology, type NatSpec, type Topology } from '../../netsim/virtual/index.js';
import { Puncher, Rendezvous } from './helpers.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';


export interface PunchScenario {
  seed: number;
  nat?: NatSpec;
  natB?: NatSpec;
  /** Start offsets of each side after the common signal, ms. */
  startA?: number;
  startB?: number;
  prime?: boolean;
  probeDelayMs?: number;
  /** Extra probe delay for B only (B primes at its start, probes later). */
  probeDelayB?: number;
  wan?: LinkProfile;
  lan?: LinkProfile;
  probes?: number;
  /** Keep sockets open for another round. */
  keep?: boolean;
  recordTrace?: boolean;
}

export interface PunchResult {
  topo: Topology;
  a: Puncher;
  b: Puncher;
  pubA: UdpEndpoint;
  pubB: UdpEndpoint;
  lastProbeAt: number;
  /** Another round on the same sockets (both re-register first). */
  again(startA: number, startB: number): Promise<{ a: boolean; b: boolean }>;
}

export async function runPunch(s: PunchScenario): Promise<PunchResult> {
  const nat = s.nat ?? 'port-restricted-cone';
  const wan = s.wan ?? { delayMs: 10 };
  const topo = buildTopology({
    seed: s.seed,
    recordTrace: s.recordTrace ?? true,
    sites: [
      { name: 'a', nat, wan, ...(s.lan ? { lan: s.lan } : {}) },
      { name: 'b', nat: s.natB ?? nat, wan, ...(s.lan ? { lan: s.lan } : {}) },
    ],
  });
  const sched = topo.scheduler;
  const rv = new Rendezvous(topo.server);
  const sa = topo.site('a').host.bind({ port: 41000 });
  const sb = topo.site('b').host.bind({ port: 42000 });
  const pubA = await rv.register(sched, 'a', sa);
  const pubB = await rv.register(sched, 'b', sb);
  const probes = s.probes ?? 20;
  const interval = 100;

  const round = async (startA: number, startB: number) => {
    const t0 = sched.now() + 100;
    const a = new Puncher(sched, sa, pubB, 'a', {
      startAt: t0 + startA,
      prime: s.prime ?? false,
      probeDelayMs: s.probeDelayMs ?? 0,
      probes,
      intervalMs: interval,
    });
    const b = new Puncher(sched, sb, pubA, 'b', {
      startAt: t0 + startB,
      prime: s.prime ?? false,
      probeDelayMs: (s.probeDelayMs ?? 0) + (s.probeDelayB ?? 0),
      probes,
      intervalMs: interval,
    });
    a.start();
    b.start();
    const lastProbeAt = t0 + Math.max(startA, startB) + (s.probeDelayMs ?? 0) + (s.probeDelayB ?? 0) + (probes - 1) * interval;
    await sched.runUntil(() => false, { maxTime: lastProbeAt + 500 });
    return { a, b, lastProbeAt };
  };

  const first = await round(s.startA ?? 0, s.startB ?? 0);
  if (!s.keep) {
    sa.close();
    sb.close();
  }
  return {
    topo,
    pubA,
    pubB,
    a: first.a,
    b: first.b,
    lastProbeAt: first.lastProbeAt,
    async again(startA, startB) {
      await rv.register(sched, 'a', sa);
      await rv.register(sched, 'b', sb);
      const r = await round(startA, startB);
      return { a: r.a.ok, b: r.b.ok };
    },
  };
}

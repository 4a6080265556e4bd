/**
 * Two peers punching through the in-process network with burrow's real punch
 * core (PunchSession + PunchRunner): srflx from a tiny UDP rendezvous, host
 * candidates from the virtual interface, a shared session key.
 */
import { randomBytes } from 'node:crypto';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { Role } from '../../src/role.js';
import {
  ProbeCodec,
  PunchRunner,
  PunchSession,
  derivePunchKeys,
  type BirthdayRole,
  type Candidate,
  type PunchSessionOptions,
} from '../../src/punch/index.js';
import { PacketKind } from '../../src/wire/packet-kind.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, type SiteSpec, type Topology, type VirtualUdpSocket } from '../../netsim/virtual/index.js';
import { Rendezvous } from '../netsim-virtual/helpers.js';

export interface Side {
  name: string;
  sockets: VirtualUdpSocket[];
  srflx: UdpEndpoint;
  host: UdpEndpoint;
  codec: ProbeCodec;
  punch?: PunchSession;
  runner?: PunchRunner;
  /** Extra candidates this side announces (e.g. predicted ports). */
  extra: Candidate[];
}

export interface PairSetup {
  seed: number;
  sites: [SiteSpec, SiteSpec] | [SiteSpec];
  /** Both peers in the first site (a LAN with two hosts). */
  sameSite?: boolean;
}

export interface Pair {
  topo: Topology;
  a: Side;
  b: Side;
  rng: SeededRandom;
  random: (n: number) => Buffer;
}

export async function setupPair(s: PairSetup): Promise<Pair> {
  const topo = buildTopology({ seed: s.seed, recordTrace: false, sites: s.sites });
  const rng = new SeededRandom(s.seed ^ 0x5eed);
  const random = (n: number) => rng.bytes(n);
  const rv = new Rendezvous(topo.server);
  const sessionKey = randomBytes(32);
  const hostA = topo.site(s.sites[0].name).hosts[0]!;
  const hostB = s.sameSite ? topo.site(s.sites[0].name).hosts[1]! : topo.site(s.sites[1]!.name).host;
  const mk = async (name: string, host: typeof hostA, role: Role): Promise<Side> => {
    const socket = host.bind({});
    const srflx = await rv.register(topo.scheduler, name, socket);
    return {
      name,
      sockets: [socket],
      srflx,
      host: socket.localEndpoint(),
      codec: new ProbeCodec(derivePunchKeys(sessionKey, role, 'conn'), random),
      extra: [],
    };
  };
  const a = await mk('a', hostA, 'initiator');
  const b = await mk('b', hostB, 'responder');
  return { topo, a, b, rng, random };
}

export function candidatesOf(side: Side): Candidate[] {
  return [{ kind: 'host', ...side.host }, { kind: 'srflx', ...side.srflx }, ...side.extra];
}

export interface RunOptions {
  startSkewMs?: number;
  a?: Partial<PunchSessionOptions>;
  b?: Partial<PunchSessionOptions>;
  birthdayHard?: 'a' | 'b';
  /** Called with each side's sockets before the start (e.g. to add an attacker). */
  maxTimeMs?: number;
}

/** Runs both punches from a common start; resolves when both are done or the bound passes. */
export async function runPunchPair(pair: Pair, opts: RunOptions = {}): Promise<void> {
  const { topo, a, b } = pair;
  const sched = topo.scheduler;
  const t0 = sched.now() + 50;
  const start = (me: Side, peer: Side, startAt: number, extra: Partial<PunchSessionOptions>, birthday: BirthdayRole | null) => {
    if (birthday?.role === 'hard') {
      for (let i = 0; i < birthday.sockets; i++) me.sockets.push(hostOf(pair, me).bind({}));
    }
    me.punch = new PunchSession({
      codec: me.codec,
      remote: candidatesOf(peer),
      startAt,
      random: pair.random,
      localHosts: [me.host.address],
      birthday,
      ...extra,
    });
    me.runner = new PunchRunner(me.punch, me.codec, me.sockets, sched, () => {});
    me.sockets.forEach((sock, index) =>
      sock.onMessage((data, from) => {
        if (data[0] === PacketKind.Probe) me.runner!.feed(data, from, index);
      }),
    );
    me.runner.start();
  };
  const hard = opts.birthdayHard;
  const bday = (me: 'a' | 'b'): BirthdayRole | null =>
    hard === undefined ? null
    : hard === me ? { role: 'hard', sockets: 256, startAfterMs: 500 }
    : { role: 'easy', probes: 2048, perSecond: 1000, startAfterMs: 600 };
  start(a, b, t0, opts.a ?? {}, bday('a'));
  start(b, a, t0 + (opts.startSkewMs ?? 0), opts.b ?? {}, bday('b'));
  const done = () => [a, b].every((s) => s.punch!.state === 'locked' || s.punch!.state === 'failed');
  await sched.runUntil(done, { maxTime: t0 + (opts.maxTimeMs ?? 10_000) });
  // Let after-lock probes and acks settle.
  await sched.advance(300);
}

function hostOf(pair: Pair, side: Side) {
  for (const site of Object.values(pair.topo.sites)) {
    for (const h of site.hosts) if (h.address === side.host.address) return h;
  }
  throw new Error('host not found');
}

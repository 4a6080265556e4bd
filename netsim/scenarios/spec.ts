/**
 * The scenarios, written once for both lanes: what breaks, where, when, what
 * traffic runs through it, and what each mode must do. The kernel runner
 * (../kernel/scenarios/) and the in-process runner (../virtual/scenarios/)
 * take their parameters and bounds from here; where a lane cannot do a
 * scenario (or a mode of it) the spec says why, and the runner reports that
 * instead of a verdict.
 */
import type { LabProfileName } from '../virtual/topology.js';

export type ScenarioName = 'spray' | 'probe-replay' | 'rendezvous-kill' | 'idle' | 'idle-tcp' | 'conntrack-flush' | 'same-site';
export type ScenarioMode = 'stcp' | 'xtcp';
export type Lane = 'kernel' | 'virtual';

export const MIB = 1024 * 1024;

export interface Topology {
  /** NAT profile of the provider's site and of the visitor's site. */
  provider: LabProfileName;
  visitor: LabProfileName;
  /** Both peers are hosts of one site (behind the same NAT). */
  sameSite?: true;
  /** A third host that attacks: off path (sees only what reaches it), or on path (sees the peers' datagrams). */
  attacker?: 'off-path' | 'on-path';
}

export type Traffic =
  /** One duplex byte-exact transfer; its size is the suite's (test or full). */
  | { kind: 'transfer' }
  /** Requests of a fixed size each way, one before and one after the fault. */
  | { kind: 'requests'; bytesEachWay: number };

export type Fault =
  /** Every mapping of a NAT forgotten at once (`conntrack -F`), once per NAT listed, each with a fresh pair. */
  | { kind: 'flush-nat'; nats: ReadonlyArray<'provider' | 'visitor'>; atFraction: number }
  /** The rendezvous dies (SIGKILL: every socket gone) and is started again at the same address. */
  | { kind: 'rendezvous-down'; atFraction: number; restartAfterMs: number }
  /** Forged and garbage packets at the peers' public mappings (± portSpread) while traffic runs. */
  | { kind: 'spray'; udpPerSecond: number; portSpread: number }
  /** Genuine punch datagrams captured and replayed, with forged probes, during the punch. */
  | { kind: 'replay'; everyMs: number }
  /** Nothing moves for idleMs while the NAT forgets idle UDP (and, with tcpLifetimeS, TCP) mappings. */
  | { kind: 'idle'; idleMs: Readonly<Record<ScenarioMode, number>>; udpLifetimeS: number; tcpLifetimeS?: number }
  | { kind: 'none' };

export interface Expectation {
  /** The requirement in words (printed with the verdict). */
  text: string;
  /** What becomes of the transfer or request that runs through the fault. */
  transfer: 'byte-exact' | 'byte-exact-or-visible-failure' | 'lost';
  /** The session must be on a direct path when the fault hits. */
  startsDirect: boolean;
  /** Log events both peers must write within withinMs of the fault. */
  notice?: { events: readonly string[]; withinMs: number };
  /** A new connection must work within this long after the fault (after the restart, for rendezvous-down). */
  recoverWithinMs?: number;
  /** The request after the fault must complete within this long. */
  requestWithinMs?: number;
  /** When the transfer is lost, the visitor logs this event within withinMs (a failure is visible, not a hang). */
  visibleFailure?: { event: string; withinMs: number };
}

export interface ScenarioSpec {
  name: ScenarioName;
  what: string;
  topology: Topology;
  traffic: Traffic;
  fault: Fault;
  expect: Readonly<Record<ScenarioMode, Expectation>>;
  /** Where the scenario, or one mode of it, does not run, and why. */
  notApplicable: Readonly<Partial<Record<Lane, Readonly<Partial<Record<ScenarioMode, string>>>>>>;
  /** Checks of the expectation a lane cannot make, and why (the rest is checked). */
  unchecked?: Readonly<Partial<Record<Lane, string>>>;
}

/**
 * A provider whose NAT forgot its control connection is not told: the
 * rendezvous's next packet meets the NAT router, which resets the
 * rendezvous's end, and the provider learns of it only from its control
 * channel's silence timeout (35 s after the last rendezvous ping). Meanwhile
 * the visitor's retries back off up to 10 s. So: 35 s + 10 s + login and
 * session set-up, with a margin. (Measured: 34.6-39.9 s; a peer-side
 * heartbeat would make it ~1 s.)
 */
export const FLUSH_RECOVERY_BOUND_MS = 55_000;

/** The in-process scenarios start from a punched path; relay-only sessions are the kernel lane's (and the matrix's). */
const VIRTUAL_XTCP_ONLY = 'the in-process scenarios start from a punched direct path; stcp (relay only) runs on the kernel lane';

/** idle and idle-tcp: the request after the idle time must work (both lanes' runners bound it). */
const IDLE_EXPECT: Readonly<Record<ScenarioMode, Expectation>> = {
  stcp: { text: 'the first request after the idle time goes through, byte-exact, within the bound', transfer: 'byte-exact', startsDirect: false, requestWithinMs: 20_000 },
  xtcp: {
    text: 'the first request after the idle time goes through, byte-exact, within the bound, on the direct path',
    transfer: 'byte-exact',
    startsDirect: true,
    requestWithinMs: 20_000,
  },
};

export const SCENARIOS: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  spray: {
    name: 'spray',
    what: 'an outside host learns the peers\' public ports from the NATs\' tables and sprays UDP (random, sealed-packet-like, probe-like) at them ±16 and TCP SYNs and garbage connections at the rendezvous, during a transfer',
    topology: { provider: 'port-restricted-cone', visitor: 'full-cone', attacker: 'off-path' },
    traffic: { kind: 'transfer' },
    fault: { kind: 'spray', udpPerSecond: 3000, portSpread: 16 },
    expect: {
      stcp: { text: 'the transfer completes byte-exact, every process stays up, a new connection works afterwards', transfer: 'byte-exact', startsDirect: false },
      xtcp: {
        text: 'forged datagrams reach the visitor\'s UDP socket, and still: the transfer completes byte-exact, every process stays up, a new connection works afterwards',
        transfer: 'byte-exact',
        startsDirect: false,
      },
    },
    notApplicable: {
      virtual: {
        stcp: VIRTUAL_XTCP_ONLY,
        xtcp: 'the in-process attack is probe-replay (on path, during the punch); an off-path spray during a transfer aims at the mappings the kernel lane reads from conntrack, which this lane does not build',
      },
    },
  },
  'probe-replay': {
    name: 'probe-replay',
    what: 'an on-path host captures the peers\' punch datagrams and replays them, with forged and random probes, at the provider\'s public mapping during the punch (1 ms link against the peers\' 10 ms)',
    topology: { provider: 'full-cone', visitor: 'port-restricted-cone', attacker: 'on-path' },
    traffic: { kind: 'requests', bytesEachWay: MIB },
    fault: { kind: 'replay', everyMs: 1 },
    expect: {
      stcp: { text: 'no punch, nothing to replay', transfer: 'byte-exact', startsDirect: false },
      xtcp: {
        text: 'both peers lock onto each other\'s real public mapping, never the attacker, and the bytes arrive intact',
        transfer: 'byte-exact',
        startsDirect: true,
      },
    },
    notApplicable: {
      kernel: {
        stcp: 'stcp never punches a direct path, so there is no punch to replay',
        xtcp: 'the kernel lab has no on-path host that could capture and replay the peers\' datagrams faster than they travel',
      },
      virtual: { stcp: 'stcp never punches a direct path, so there is no punch to replay' },
    },
  },
  'rendezvous-kill': {
    name: 'rendezvous-kill',
    what: 'the rendezvous dies (every socket closed at once) at 25 % of a transfer and is started again at the same address 1 s later',
    topology: { provider: 'port-restricted-cone', visitor: 'port-restricted-cone' },
    traffic: { kind: 'transfer' },
    fault: { kind: 'rendezvous-down', atFraction: 0.25, restartAfterMs: 1000 },
    expect: {
      stcp: {
        text: 'the transfer is lost with the relay; both peers log rendezvous-lost and session-closed; after the restart a new connection works within the bound',
        transfer: 'lost',
        startsDirect: false,
        notice: { events: ['rendezvous-lost', 'session-closed'], withinMs: 5000 },
        recoverWithinMs: 20_000,
      },
      xtcp: {
        text: 'the transfer completes byte-exact on the direct path; both peers log rendezvous-lost; after the restart a new connection works within the bound',
        transfer: 'byte-exact',
        startsDirect: true,
        notice: { events: ['rendezvous-lost'], withinMs: 5000 },
        recoverWithinMs: 20_000,
      },
    },
    notApplicable: { virtual: { stcp: VIRTUAL_XTCP_ONLY } },
    unchecked: { virtual: 'the in-process rendezvous is not started again (its sockets belong to the closed server), so no new connection after a restart is tried' },
  },
  idle: {
    name: 'idle',
    what: 'one request, then the tunnel idles longer than the visitor\'s NAT keeps UDP mappings (5 s), then another request',
    topology: { provider: 'port-restricted-cone', visitor: 'short-lifetime' },
    traffic: { kind: 'requests', bytesEachWay: MIB },
    fault: { kind: 'idle', idleMs: { stcp: 12_000, xtcp: 60_000 }, udpLifetimeS: 5 },
    expect: IDLE_EXPECT,
    notApplicable: { virtual: { stcp: VIRTUAL_XTCP_ONLY } },
  },
  'idle-tcp': {
    name: 'idle-tcp',
    what: 'as idle, with the NAT\'s established-TCP timeout also 5 s, so the relay and control connections outlive their mappings',
    topology: { provider: 'port-restricted-cone', visitor: 'short-lifetime' },
    traffic: { kind: 'requests', bytesEachWay: MIB },
    fault: { kind: 'idle', idleMs: { stcp: 12_000, xtcp: 60_000 }, udpLifetimeS: 5, tcpLifetimeS: 5 },
    expect: IDLE_EXPECT,
    notApplicable: {
      virtual: {
        stcp: VIRTUAL_XTCP_ONLY,
        xtcp: 'the in-process NAT models UDP mapping lifetimes only; virtual TCP through a NAT never expires',
      },
    },
  },
  'conntrack-flush': {
    name: 'conntrack-flush',
    what: 'a NAT forgets every mapping at once (conntrack -F) at 25 % of a transfer: first the provider\'s NAT, then, with a fresh pair, the visitor\'s',
    topology: { provider: 'port-restricted-cone', visitor: 'port-restricted-cone' },
    traffic: { kind: 'transfer' },
    fault: { kind: 'flush-nat', nats: ['provider', 'visitor'], atFraction: 0.25 },
    expect: {
      stcp: {
        text: 'the transfer completes byte-exact, or it fails visibly (no hang) and a new connection works within the bound',
        transfer: 'byte-exact-or-visible-failure',
        startsDirect: false,
        visibleFailure: { event: 'session-closed', withinMs: 5000 },
        recoverWithinMs: FLUSH_RECOVERY_BOUND_MS,
      },
      xtcp: {
        text: 'the transfer completes byte-exact (the direct path, or the relay while the peers notice a broken path and punch again), and a new connection works within the bound',
        transfer: 'byte-exact',
        startsDirect: true,
        recoverWithinMs: FLUSH_RECOVERY_BOUND_MS,
      },
    },
    notApplicable: { virtual: { stcp: VIRTUAL_XTCP_ONLY } },
    unchecked: { virtual: 'the in-process transfer is carried on by the same session (relay, then a fresh punch); no second connection is opened after it' },
  },
  'same-site': {
    name: 'same-site',
    what: 'both peers are hosts behind one NAT that does not hairpin: the only way is the LAN',
    topology: { provider: 'no-hairpin', visitor: 'no-hairpin', sameSite: true },
    traffic: { kind: 'requests', bytesEachWay: MIB },
    fault: { kind: 'none' },
    expect: {
      stcp: { text: 'the relay carries it byte-exact', transfer: 'byte-exact', startsDirect: false },
      xtcp: { text: 'the session runs "direct LAN" between the two hosts, byte-exact, and never crosses the NAT', transfer: 'byte-exact', startsDirect: true },
    },
    notApplicable: {
      kernel: {
        stcp: 'the scenario lab has one host per site; a same-site relay pair runs in the kernel matrix (sameSite)',
        xtcp: 'the scenario lab has one host per site; a same-site pair runs in the kernel matrix (sameSite)',
      },
      virtual: { stcp: VIRTUAL_XTCP_ONLY },
    },
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

/** Why a scenario does not run in this lane and mode, or undefined when it does. */
export function notApplicable(name: ScenarioName, lane: Lane, mode: ScenarioMode): string | undefined {
  return SCENARIOS[name].notApplicable[lane]?.[mode];
}

/** The scenarios that run in a lane and mode. */
export function scenariosFor(lane: Lane, mode: ScenarioMode): ScenarioName[] {
  return SCENARIO_NAMES.filter((n) => notApplicable(n, lane, mode) === undefined);
}

/** The requirement texts of a scenario, by mode. */
export function expectationTexts(name: ScenarioName): Record<ScenarioMode, string> {
  const e = SCENARIOS[name].expect;
  return { stcp: e.stcp.text, xtcp: e.xtcp.text };
}

/** A scenario's fault, of the kind its runner is written for (a mismatch is a bug in the spec, so it throws). */
export function faultOf<K extends Fault['kind']>(name: ScenarioName, kind: K): Extract<Fault, { kind: K }> {
  const f = SCENARIOS[name].fault;
  if (f.kind !== kind) throw new Error(`scenario ${name}: the spec's fault is ${f.kind}, its runner expects ${kind}`);
  return f as Extract<Fault, { kind: K }>;
}

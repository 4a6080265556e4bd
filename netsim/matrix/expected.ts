/**
 * The expected-outcome table of the NAT matrix, kept in the repo and checked
 * by the tests and by `burrow netsim matrix`.
 *
 * One entry per ordered pair (provider-side profile, visitor-side profile) of
 * the kernel lane's eleven profiles, with three columns:
 *
 * - `relay` (checked now): what the `stcp` relay path must do. Every pair must
 *   give "relay" — 16 MB each way, byte-exact. The relay is TCP from each peer
 *   out to the rendezvous, so UDP blocking, UDP mapping lifetime, UDP loss and
 *   the NAT's UDP mapping/filtering behaviour do not matter; neither does the
 *   order of the pair (both peers only ever connect out, and the bytes take the
 *   same kind of path each way). A NAT that broke outbound TCP would fail here.
 *
 * - `direct` (checked in xtcp mode by both lanes' matrices): what UDP hole
 *   punching should achieve, reasoned from RFC 4787 (mapping × filtering):
 *     direct      both NATs map endpoint-independently (EIM): each side learns
 *                 the other's mapping from the rendezvous and simultaneous
 *                 punching works (for Linux masquerade on both sides only with
 *                 the conntrack-race remedy, e.g. TTL-2 priming; see
 *                 ../../shared/NETSIM-FACTS.md).
 *                 Also EIM ↔ symmetric when the EIM side filters
 *                 endpoint-independently (full cone: anything reaches its
 *                 mapping) or address-dependently (restricted cone: the cone
 *                 side's own probe to the symmetric peer's address opens its
 *                 filter for every port of that address).
 *     prediction  one side maps per destination with *predictable* (e.g.
 *                 sequential) ports: guess the next port. None of the ten kernel
 *                 profiles allocates sequentially (symmetric-random is
 *                 `fully-random`), so no kernel cell says this; the in-process
 *                 lane's symmetric-sequential pairs do (labExpectedDirect below).
 *                 Checked like "direct": must go direct.
 *     birthday    symmetric with random ports against a port-dependent filter
 *                 (port-restricted cone and its variants): the random side opens
 *                 many mappings, the cone side probes many ports; a birthday
 *                 collision gives a path with high probability, not certainty.
 *     relay       no direct path: UDP blocked on either side, or random-port
 *                 symmetric on both sides (two unknown ports, both filtered).
 *   short-lifetime needs keepalives more often than every 5 s to stay direct;
 *   lossy-core goes direct and the transport's ARQ carries the 5 % loss;
 *   double-nat is two EIM/port-dependent NATs in series, which behaves as one.
 *   upnp-router is symmetric-random whose router also maps a port on request
 *   (NAT-PMP RFC 6886, PCP RFC 6887, UPnP IGD; miniupnpd). A mapped port is
 *   reachable from any address and port, so every pair with it goes direct
 *   unless UDP is blocked on the other side — with the peers' port mapping
 *   on (the default; BURROW_PORTMAP=off or --no-portmap turns it off, and
 *   then upnp-router is plain symmetric-random: the kernel matrix runs its
 *   peers with BURROW_PORTMAP=on).
 *
 * - `via` (checked in xtcp mode by both lanes' matrices when the pair goes
 *   direct; labExpectedVia below adds symmetric-sequential): which kind of
 *   direct path, with its reason (`viaWhy`):
 *     punch   no router in the pair maps ports: hole punching (or birthday
 *             probing) made the path; a mapped path here would be a bug.
 *     mapped  the path must run through the router's mapped port: without
 *             it the pair would relay (the other side maps per destination
 *             too). The mapped side waits at its mapping and answers from
 *             it (miniupnpd adds no source-NAT, so its own first packets
 *             would leave from a random port; see src/punch/nat-plan.ts). A
 *             mapping granted after the session's 300 ms grace is offered on
 *             the retry that follows the hopeless plan.
 *     either  a mapping exists, but another path can win: the other side is
 *             a full or restricted cone that admits the mapped side's own
 *             probes, or a port-restricted one, where birthday probing can
 *             make the path when the router answers after the grace (the
 *             first offer then goes without the mapping; a path found is
 *             kept). In time, the mapped candidate is probed first.
 *     none    a relay cell.
 *
 * The table is symmetric in the pair for every column.
 */
import { at } from '../../src/util/at.js';
import { PROFILE_NAMES, type ProfileName } from '../kernel/profiles.js';
import type { LabProfileName } from '../virtual/topology.js';

export type RelayOutcome = 'relay' | 'failed';
export type DirectExpectation = 'direct' | 'prediction' | 'birthday' | 'relay';
/** Which kind of direct path a cell expects (see the header): the `via` column. */
export type DirectVia = 'punch' | 'mapped' | 'either' | 'none';
/** What kind of direct path a pair took: through a router's mapped port, or punched. */
export type MeasuredVia = 'mapped' | 'punch';

/** Any profile a matrix can hold: the kernel lane's and the in-process lane's (which adds symmetric-sequential). */
export type MatrixProfileName = ProfileName | LabProfileName;

export interface ExpectedCell {
  /** What the stcp relay path must give now (checked). */
  relay: RelayOutcome;
  /** What the direct path (xtcp) should give; checked by the xtcp matrices. */
  direct: DirectExpectation;
  /** One-line reason for `direct` (RFC 4787; RFC 6886/6887/UPnP where a router maps ports). */
  why: string;
  /** Which kind of direct path (xtcp, when the pair goes direct); checked by both lanes' xtcp matrices. */
  via: DirectVia;
  /** One-line reason for `via`. */
  viaWhy: string;
}

type NatClass = {
  mapping: 'EIM' | 'APDM-random' | 'none';
  filtering: 'EIF' | 'ADF' | 'APDF' | 'none';
  /** The router maps a port on request (NAT-PMP, PCP, UPnP IGD): reachable from anywhere. */
  portMapping?: true;
};

/** How each profile maps and filters UDP (RFC 4787), as classified by `stun` in the kernel lane. */
const NAT_CLASS: Readonly<Record<ProfileName, NatClass>> = {
  'full-cone': { mapping: 'EIM', filtering: 'EIF' },
  'restricted-cone': { mapping: 'EIM', filtering: 'ADF' },
  'port-restricted-cone': { mapping: 'EIM', filtering: 'APDF' },
  'symmetric-random': { mapping: 'APDM-random', filtering: 'APDF' },
  'udp-blocked': { mapping: 'none', filtering: 'none' },
  hairpin: { mapping: 'EIM', filtering: 'APDF' },
  'no-hairpin': { mapping: 'EIM', filtering: 'APDF' },
  'double-nat': { mapping: 'EIM', filtering: 'APDF' },
  'short-lifetime': { mapping: 'EIM', filtering: 'APDF' },
  'lossy-core': { mapping: 'EIM', filtering: 'APDF' },
  'upnp-router': { mapping: 'APDM-random', filtering: 'APDF', portMapping: true },
};

/** A full or restricted cone: its filter admits the peer's own probes whatever port they leave from. */
const conePassesAnyPort = (n: NatClass): boolean => n.mapping === 'EIM' && (n.filtering === 'EIF' || n.filtering === 'ADF');

/**
 * The reasoning behind DIRECT_GRID, from each profile's mapping and
 * filtering (RFC 4787) and whether its router maps ports on request.
 */
export function rfc4787Direct(a: ProfileName, b: ProfileName): { direct: DirectExpectation; why: string } {
  const A = NAT_CLASS[a];
  const B = NAT_CLASS[b];
  if (A.mapping === 'none' || B.mapping === 'none') return { direct: 'relay', why: 'UDP is blocked on one side: only the TCP relay works' };
  if (A.portMapping && B.portMapping) {
    return { direct: 'direct', why: 'both routers map a port on request: one side waits at its mapping, the other probes it from wherever its NAT sends it' };
  }
  if (A.portMapping || B.portMapping) {
    const other = A.portMapping ? B : A;
    if (conePassesAnyPort(other)) {
      return { direct: 'direct', why: "the router's mapped port admits the cone side's probes, and the cone admits the symmetric side's own: two ways in" };
    }
    const without = other.mapping === 'EIM' ? 'birthday probing' : 'relay';
    return {
      direct: 'direct',
      why: `the router maps a port anyone can reach: the peer probes it, the mapped side waits and answers from it (without the mapping: ${without})`,
    };
  }
  if (A.mapping === 'EIM' && B.mapping === 'EIM') {
    const race = A.filtering === 'APDF' && B.filtering === 'APDF';
    return {
      direct: 'direct',
      why: race
        ? 'both map endpoint-independently: simultaneous punching (needs the conntrack-race remedy, e.g. TTL-2 priming)'
        : 'both map endpoint-independently: simultaneous punching',
    };
  }
  if (A.mapping !== 'EIM' && B.mapping !== 'EIM') return { direct: 'relay', why: 'random-port symmetric on both sides: neither mapping can be learned or guessed' };
  const cone = A.mapping === 'EIM' ? A : B;
  if (cone.filtering === 'EIF') return { direct: 'direct', why: 'full cone accepts the symmetric side from any port; it answers the port it sees' };
  if (cone.filtering === 'ADF') return { direct: 'direct', why: "restricted cone's probe opens its filter for every port of the symmetric side's address" };
  return { direct: 'birthday', why: 'random-port symmetric against a port-dependent filter: many mappings × many probes (birthday collision)' };
}

/** The `via` column's reasoning: which kind of direct path a pair should take. */
export function directVia(a: ProfileName, b: ProfileName): { via: DirectVia; why: string } {
  const A = NAT_CLASS[a];
  const B = NAT_CLASS[b];
  if (rfc4787Direct(a, b).direct === 'relay') return { via: 'none', why: 'no direct path: nothing to map through' };
  if (!A.portMapping && !B.portMapping) return { via: 'punch', why: 'no router of the pair maps ports: hole punching only' };
  const other = A.portMapping && B.portMapping ? null : A.portMapping ? B : A;
  if (other !== null && conePassesAnyPort(other)) {
    return { via: 'either', why: "punching works too (the cone admits the mapped side's own probes): whichever path answers first" };
  }
  if (other !== null && other.mapping === 'EIM') {
    return {
      via: 'either',
      why: 'the mapping is probed first when the router grants it within the 300 ms grace; granted later, the first offer goes without it and birthday probing may make the path',
    };
  }
  return { via: 'mapped', why: 'only the mapped port admits the peer (a later mapping is offered on the retry): the path must run through it' };
}

export function pairKey(provider: ProfileName, visitor: ProfileName): string {
  return `${provider}->${visitor}`;
}

/** Column order of the grids below (the kernel lane's profile order). */
export const GRID_ORDER: readonly ProfileName[] = [
  'full-cone',
  'restricted-cone',
  'port-restricted-cone',
  'symmetric-random',
  'udp-blocked',
  'hairpin',
  'no-hairpin',
  'double-nat',
  'short-lifetime',
  'lossy-core',
  'upnp-router',
];

// Lower-case r: the relay must give "relay" (relay grid); upper-case R: no direct path, relay only (direct grid).
const r = 'relay' as const;
const D = 'direct' as const;
const B = 'birthday' as const;
const R = 'relay' as const;

/**
 * What the relay (stcp) must give, rows = provider-side profile, columns =
 * visitor-side profile in GRID_ORDER. Checked by the tests and the CLI.
 */
const RELAY_GRID: Readonly<Record<ProfileName, readonly RelayOutcome[]>> = {
  //                      full restr port  sym  udpb hair nohp dbl  short lossy upnp
  'full-cone':            [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'restricted-cone':      [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'port-restricted-cone': [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'symmetric-random':     [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'udp-blocked':          [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  hairpin:                [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'no-hairpin':           [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'double-nat':           [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'short-lifetime':       [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'lossy-core':           [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
  'upnp-router':          [r,   r,   r,   r,   r,   r,   r,   r,   r,   r,    r],
};

/**
 * What the direct path (xtcp) should give, checked by the xtcp matrices
 * ("birthday" may go either way). Must agree with rfc4787Direct() (a test
 * checks that).
 */
const DIRECT_GRID: Readonly<Record<ProfileName, readonly DirectExpectation[]>> = {
  //                      full restr port  sym  udpb hair nohp dbl  short lossy upnp
  'full-cone':            [D,   D,   D,   D,   R,   D,   D,   D,   D,   D,    D],
  'restricted-cone':      [D,   D,   D,   D,   R,   D,   D,   D,   D,   D,    D],
  'port-restricted-cone': [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'symmetric-random':     [D,   D,   B,   R,   R,   B,   B,   B,   B,   B,    D],
  'udp-blocked':          [R,   R,   R,   R,   R,   R,   R,   R,   R,   R,    R],
  hairpin:                [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'no-hairpin':           [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'double-nat':           [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'short-lifetime':       [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'lossy-core':           [D,   D,   D,   B,   R,   D,   D,   D,   D,   D,    D],
  'upnp-router':          [D,   D,   D,   D,   R,   D,   D,   D,   D,   D,    D],
};

function build(): Readonly<Record<string, ExpectedCell>> {
  const t: Record<string, ExpectedCell> = {};
  GRID_ORDER.forEach((a) => {
    GRID_ORDER.forEach((b, j) => {
      const v = directVia(a, b);
      t[pairKey(a, b)] = { relay: at(RELAY_GRID[a], j), direct: at(DIRECT_GRID[a], j), why: rfc4787Direct(a, b).why, via: v.via, viaWhy: v.why };
    });
  });
  return t;
}

/** Every ordered pair of the eleven kernel profiles: 121 entries. */
export const EXPECTED: Readonly<Record<string, ExpectedCell>> = build();

export function expectedFor(provider: ProfileName, visitor: ProfileName): ExpectedCell {
  const e = EXPECTED[pairKey(provider, visitor)];
  if (!e) throw new Error(`no expected outcome for ${pairKey(provider, visitor)}`);
  return e;
}

/** Same profiles, same order (a guard against a profile added to the lane but not to the table). */
export function gridCoversProfiles(): boolean {
  return GRID_ORDER.length === PROFILE_NAMES.length && PROFILE_NAMES.every((p) => GRID_ORDER.includes(p));
}

/**
 * The in-process lane's extra profile, symmetric-sequential (S: a new public
 * port per destination, handed out in sequence, step 1; address-and-port-
 * dependent filtering; no kernel twin). Its pairs with every lab profile,
 * reasoned from RFC 4787 and from what burrow's punch does with a sequential
 * NAT (peer/session-stun.ts learns the step from its two STUN mappings,
 * peer/direct-link.ts offers the last one seen as srflx plus the next 8 ports
 * as "predicted" candidates, src/punch/nat-plan.ts picks the plan), and
 * checked by the in-process xtcp matrix:
 *
 *   S ↔ endpoint-independent mapping (full, restricted, port-restricted cone
 *       and the lab's port-restricted variants): prediction. The cone side has
 *       one public port that S's probes reach; S's NAT gives the flow toward
 *       that port the next port in sequence, which the cone side probes among
 *       the predicted candidates (a port-dependent filter needs exactly it).
 *       Must go direct.
 *   S ↔ S: relay, though RFC 4787 allows prediction: if one side sent to one
 *       predicted port and the other swept, the first swept probe would meet
 *       it. burrow's plan has both sides prime and probe all nine of the
 *       peer's public candidates in the same order, each destination taking
 *       the next port of the prober's NAT, so A's flow toward B's port p+k
 *       leaves from A's q+k+1 while B's flow toward A's q+k+1 leaves from
 *       B's p+k+2: the two sequences stay two ports apart and never meet
 *       (seen in the virtual trace). A plan change in src/punch, not a NAT
 *       model question; this cell turns "direct" when that lands.
 *   S ↔ symmetric-random: relay. The random side's mapping toward S cannot be
 *       learned or guessed; burrow treats S as the easy side of birthday
 *       probing, but every spray probe from S leaves from a new sequential
 *       port, while the random side's many mappings point at S's srflx port
 *       only, so its filter admits none of them.
 *   S ↔ udp-blocked: relay.
 */
const SEQUENTIAL_DIRECT: Readonly<Record<MatrixProfileName, { direct: DirectExpectation; why: string }>> = (() => {
  const prediction = {
    direct: 'prediction' as const,
    why: "the sequential side's next port is predicted from its two STUN mappings; the cone side probes it",
  };
  return {
    'full-cone': prediction,
    'restricted-cone': prediction,
    'port-restricted-cone': prediction,
    hairpin: prediction,
    'no-hairpin': prediction,
    'double-nat': prediction,
    'short-lifetime': prediction,
    'lossy-core': prediction,
    'symmetric-sequential': {
      direct: 'relay',
      why: "both sides sweep each other's predicted ports, each probe taking the next port, so the sequences never meet (RFC 4787 allows it if one side holds still)",
    },
    'symmetric-random': {
      direct: 'relay',
      why: "the random side's port cannot be learned, and every probe from the sequential side leaves from a new port the random side's mappings do not admit",
    },
    'udp-blocked': { direct: 'relay', why: 'UDP is blocked on one side: only the TCP relay works' },
    // Reasoned like the kernel cells (the mapped port admits any source port); via 'mapped' (labExpectedVia).
    'upnp-router': {
      direct: 'direct',
      why: "the router's mapped port admits the sequential side's probe from whatever port its NAT picks; the mapped side waits and answers from the mapping",
    },
  };
})();

function isKernelProfile(p: MatrixProfileName): p is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(p);
}

/**
 * The direct column for any pair of the in-process lane's profiles: the
 * kernel table for the ten kernel profiles, SEQUENTIAL_DIRECT for pairs with
 * symmetric-sequential (symmetric in the pair).
 */
export function labExpectedDirect(provider: MatrixProfileName, visitor: MatrixProfileName): { direct: DirectExpectation; why: string } {
  if (isKernelProfile(provider) && isKernelProfile(visitor)) {
    const e = expectedFor(provider, visitor);
    return { direct: e.direct, why: e.why };
  }
  return SEQUENTIAL_DIRECT[provider === 'symmetric-sequential' ? visitor : provider];
}

/**
 * The via column for any pair of the in-process lane's profiles: the kernel
 * table for kernel pairs; with symmetric-sequential, "mapped" against
 * upnp-router (the sequential side maps per destination too: without the
 * mapping the pair is symmetric-random against a per-destination mapping,
 * which relays), "punch" for its other direct cells, "none" for its relay
 * cells.
 */
export function labExpectedVia(provider: MatrixProfileName, visitor: MatrixProfileName): { via: DirectVia; why: string } {
  if (isKernelProfile(provider) && isKernelProfile(visitor)) {
    const e = expectedFor(provider, visitor);
    return { via: e.via, why: e.viaWhy };
  }
  const other = provider === 'symmetric-sequential' ? visitor : provider;
  if (labExpectedDirect(provider, visitor).direct === 'relay') return { via: 'none', why: 'no direct path: nothing to map through' };
  if (other === 'upnp-router') {
    return { via: 'mapped', why: 'only the mapped port admits the sequential side, whose every probe leaves from a new port: the path must run through it' };
  }
  return { via: 'punch', why: 'no router of the pair maps ports: hole punching (port prediction) only' };
}

/** What a matrix cell must show in xtcp mode: 'direct' (prediction included), 'relay', or 'birthday' (either). */
export type XtcpExpectation = 'direct' | 'relay' | 'birthday';

export function xtcpExpectation(direct: DirectExpectation): XtcpExpectation {
  return direct === 'prediction' ? 'direct' : direct;
}

/** Whether an xtcp outcome agrees with the expectation (a failed transfer never does). */
export function xtcpAsExpected(expected: XtcpExpectation, outcome: 'direct' | 'relay' | 'failed'): boolean {
  if (outcome === 'failed') return false;
  return expected === 'birthday' ? true : outcome === expected;
}

/** stcp: the relay only, every pair must relay (the relay column); xtcp: punch a direct path, the direct column. */
export type MatrixMode = 'stcp' | 'xtcp';
/** What a cell must show in a mode. */
export type CellExpectation = RelayOutcome | XtcpExpectation;

/**
 * The relay column for any pair of the in-process lane's profiles.
 * symmetric-sequential has no kernel twin and so no row in the table; the
 * relay column's reasoning (the relay is TCP out to the rendezvous from both
 * sides, whatever the NAT does to UDP) gives "relay" for it too.
 */
export function labExpectedRelay(provider: MatrixProfileName, visitor: MatrixProfileName): RelayOutcome {
  if (isKernelProfile(provider) && isKernelProfile(visitor)) return expectedFor(provider, visitor).relay;
  return 'relay';
}

/** What a cell must show in this mode: the relay column (stcp) or the direct column (xtcp). */
export function cellExpectation(mode: MatrixMode, provider: MatrixProfileName, visitor: MatrixProfileName): CellExpectation {
  return mode === 'stcp' ? labExpectedRelay(provider, visitor) : xtcpExpectation(labExpectedDirect(provider, visitor).direct);
}

/** Whether a cell agrees with its expectation: byte-exact both ways, and the outcome the column asks for. */
export function cellAsExpected(expected: CellExpectation, outcome: 'direct' | 'relay' | 'failed', verified: boolean): boolean {
  if (!verified || outcome === 'failed') return false;
  return expected === 'birthday' ? true : outcome === expected;
}

/**
 * Whether a direct pair took the kind of path the `via` column asks for
 * ('mapped': through the router's mapped port; 'punch': not through one).
 * A pair that did not go direct is judged by the direct column alone.
 */
export function viaAsExpected(expected: DirectVia, outcome: 'direct' | 'relay' | 'failed', via: MeasuredVia | undefined): boolean {
  if (outcome !== 'direct') return true;
  if (expected === 'mapped') return via === 'mapped';
  if (expected === 'punch') return via !== 'mapped';
  return true;
}

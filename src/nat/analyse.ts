/**
 * The pure half of NAT behaviour discovery: what the probes saw in, a
 * NatReport out. No I/O and no clock, so every rule is testable by itself.
 * The probes themselves are in discovery.ts.
 */
import type { UdpEndpoint } from '../net/udp-socket.js';
import { formatEndpoint, sameEndpoint } from '../net/endpoint.js';
import { noRoute, noRouteCause } from './local-address.js';
import { isSequentialStep } from './port-step.js';
import { at } from '../util/at.js';
import { BEHAVIOURS, type Behaviour, type BehaviourResult, type HairpinResult, type NatReport, type PortAllocationResult, type PortSample } from './report.js';

/** What the discovery probes saw. `undefined` = the test did not run; null = no answer. */
export interface Observations {
  server: UdpEndpoint;
  /** Local endpoint of the main socket. */
  local: UdpEndpoint;
  /** Test I: the main socket's first request to the server's primary address. */
  first: { mapped: UdpEndpoint; other: UdpEndpoint | null } | null;
  /** The server has a second IP address (it sent OTHER-ADDRESS or CHANGED-ADDRESS). */
  altAddress: UdpEndpoint | null;
  /** The server's alternate port on its primary address, when known. */
  altPort: UdpEndpoint | null;
  /** Test II: main socket to (alternate IP, primary port). */
  mappingAltAddress?: UdpEndpoint | null;
  /** Test III: main socket to (alternate IP, alternate port). */
  mappingAltBoth?: UdpEndpoint | null;
  /** Without a second IP: main socket to (primary IP, alternate port). */
  mappingAltPort?: UdpEndpoint | null;
  /** A fresh socket asked for an answer from the other IP and port: did it arrive? */
  filterChangeBoth?: boolean;
  /** ... from the other port only. */
  filterChangePort?: boolean;
  portSamples: PortSample[];
  hairpin?: boolean;
  durationMs: number;
}

/**
 * Nothing could be sent: this host has no route to the server, e.g. an
 * IPv6-only host asked about IPv4. Reported like "UDP blocked" (no test ran),
 * in words that say why.
 */
export function noRouteReport(server: UdpEndpoint, durationMs: number): NatReport {
  const family = server.address.includes(':') ? 'IPv6' : 'IPv4';
  const why = `${noRoute(server)} to the server`;
  return notTested(server, null, null, why, `every test: ${why}`, durationMs,
    `No route to ${formatEndpoint(server)}: ${noRouteCause(server)}, so nothing was sent. ` +
      `No direct connection over ${family} is possible from here.${family === 'IPv4' ? ' See the IPv6 section.' : ''}`);
}

function notTested(
  server: UdpEndpoint,
  serverAlternate: UdpEndpoint | null,
  local: UdpEndpoint | null,
  why: string,
  notRun: string,
  durationMs: number,
  summary: string,
): NatReport {
  const blocked: BehaviourResult = { behaviour: null, possible: [...BEHAVIOURS], tested: false, explanation: `Not tested: ${why}.` };
  return {
    server,
    serverAlternate,
    udp: 'blocked',
    local,
    mapped: null,
    nat: 'unknown',
    mapping: blocked,
    filtering: blocked,
    portAllocation: { kind: 'unknown', samples: [], explanation: `Not tested: ${why}.` },
    hairpin: { works: null, explanation: `Not tested: ${why}.` },
    notRun: [notRun],
    summary,
    durationMs,
  };
}

const PLAIN: Record<Behaviour, string> = {
  'endpoint-independent': 'endpoint-independent (the same for every remote address and port)',
  'address-dependent': 'address-dependent (depends on the remote IP address)',
  'address-and-port-dependent': 'address-and-port-dependent (depends on the remote IP address and port)',
};

export function analyse(o: Observations): NatReport {
  const notRun: string[] = [];
  const server = o.server;
  const serverAlternate = o.altAddress ?? o.altPort;
  if (o.first === null) {
    return notTested(server, serverAlternate, o.local, 'no answer from the STUN server over UDP', 'every test: the server did not answer over UDP', o.durationMs,
      `No answer from ${formatEndpoint(server)} over UDP. Either this network blocks UDP (common on guest Wi-Fi and ` +
        'corporate networks that allow only web traffic), or the server is down or not answering STUN on that port. ' +
        'Without UDP no direct connection is possible; burrow would use the relay through the rendezvous (TCP).');
  }

  const mapped = o.first.mapped;
  const noNat = sameEndpoint(mapped, o.local);
  const mapping = mappingResult(o, noNat, notRun);
  const filtering = filteringResult(o, noNat, notRun);
  const portAllocation = portResult(o.portSamples, noNat, notRun);
  const hairpin = hairpinResult(o.hairpin, noNat, notRun);
  return {
    server,
    serverAlternate,
    udp: 'ok',
    local: o.local,
    mapped,
    nat: noNat ? 'none' : 'present',
    mapping,
    filtering,
    portAllocation,
    hairpin,
    notRun,
    summary: summarise(noNat, mapped, mapping, filtering, portAllocation, hairpin),
    durationMs: o.durationMs,
  };
}

function conclusive(b: Behaviour, explanation: string): BehaviourResult {
  return { behaviour: b, possible: [b], tested: true, explanation };
}

function mappingResult(o: Observations, noNat: boolean, notRun: string[]): BehaviourResult {
  const x1 = o.first!.mapped;
  if (noNat) return conclusive('endpoint-independent', 'No NAT: the server saw your own address and port, so every remote host sees the same one.');
  if (o.altAddress !== null && o.mappingAltAddress !== undefined) {
    const x2 = o.mappingAltAddress;
    if (x2 === null) {
      notRun.push("mapping: the server's second address did not answer");
      return unknown("The server's second address did not answer, so mapping could not be compared.");
    }
    if (sameEndpoint(x1, x2)) {
      return conclusive('endpoint-independent', `Mapping is ${PLAIN['endpoint-independent']}: one socket kept ${formatEndpoint(x1)} towards both server addresses.`);
    }
    const x3 = o.mappingAltBoth;
    if (x3 !== undefined && x3 !== null && sameEndpoint(x2, x3)) {
      return conclusive('address-dependent', `Mapping is ${PLAIN['address-dependent']}: ${formatEndpoint(x1)} towards one server address, ${formatEndpoint(x2)} towards the other, the same for both its ports.`);
    }
    if (x3 === undefined || x3 === null) {
      return { behaviour: null, possible: ['address-dependent', 'address-and-port-dependent'], tested: true, explanation: `The public port changed with the server address (${formatEndpoint(x1)}, then ${formatEndpoint(x2)}); the third test got no answer.` };
    }
    return conclusive(
      'address-and-port-dependent',
      `Mapping is ${PLAIN['address-and-port-dependent']}: a new public port for every destination (${[x1, x2, x3].map((e) => e.port).join(', ')}).`,
    );
  }
  if (o.altPort !== null && o.mappingAltPort !== undefined) {
    const xp = o.mappingAltPort;
    notRun.push('mapping: the server has one IP address, so address-dependent cannot be told from endpoint-independent');
    if (xp === null) return unknown("The server's alternate port did not answer.");
    if (sameEndpoint(x1, xp)) {
      return {
        behaviour: null,
        possible: ['endpoint-independent', 'address-dependent'],
        tested: true,
        explanation: `One socket kept ${formatEndpoint(x1)} towards both server ports: mapping is endpoint-independent or address-dependent (telling them apart needs a server with a second IP address).`,
      };
    }
    return conclusive('address-and-port-dependent', `Mapping is ${PLAIN['address-and-port-dependent']}: the public port changed with the server port (${x1.port}, then ${xp.port}).`);
  }
  notRun.push('mapping: the server offers no second address or port (a burrow rendezvous answers on PORT+1: use --alt-port)');
  return unknown('Not tested: the server offers no second address or port to compare against.');
}

function filteringResult(o: Observations, noNat: boolean, notRun: string[]): BehaviourResult {
  const both = o.filterChangeBoth;
  const port = o.filterChangePort;
  const who = noNat ? 'No NAT, and filtering' : 'Filtering';
  if (o.altAddress !== null && both !== undefined) {
    if (both) return conclusive('endpoint-independent', `${who} is ${PLAIN['endpoint-independent']}: an answer from an address and port you never sent to got through.`);
    if (port === true) return conclusive('address-dependent', `${noNat ? 'No NAT, but a firewall: filtering' : 'Filtering'} is ${PLAIN['address-dependent']}: an answer from another port of the address you sent to got through; one from another address did not.`);
    if (port === false) return conclusive('address-and-port-dependent', `${noNat ? 'No NAT, but a firewall: filtering' : 'Filtering'} is ${PLAIN['address-and-port-dependent']}: only the exact address and port you sent to can answer.`);
  }
  if (o.altPort !== null && port !== undefined) {
    notRun.push('filtering: the server has one IP address, so address-dependent cannot be told from endpoint-independent');
    if (port) {
      return {
        behaviour: null,
        possible: ['endpoint-independent', 'address-dependent'],
        tested: true,
        explanation: 'An answer from another port of the server got through: filtering is endpoint-independent or address-dependent (telling them apart needs a server with a second IP address).',
      };
    }
    return conclusive('address-and-port-dependent', `Filtering is ${PLAIN['address-and-port-dependent']}: an answer from another port of the server was dropped.`);
  }
  notRun.push('filtering: the server cannot answer from another address or port');
  return unknown('Not tested: the server cannot answer from another address or port.');
}

function unknown(explanation: string): BehaviourResult {
  return { behaviour: null, possible: [...BEHAVIOURS], tested: false, explanation };
}

/** Classifies port allocation from fresh sockets' (local, public) ports, taken one after another. */
export function portResult(samples: PortSample[], noNat: boolean, notRun: string[]): PortAllocationResult {
  if (noNat) return { kind: 'preserving', samples, explanation: 'No NAT: your ports are used as they are.' };
  if (samples.length === 0) {
    notRun.push('port allocation: no fresh socket got an answer');
    return { kind: 'unknown', samples, explanation: 'Not tested: no fresh socket got an answer.' };
  }
  if (samples.every((s) => s.local === s.mapped)) {
    return { kind: 'preserving', samples, explanation: `Ports are preserved: each of ${samples.length} sockets kept its local port as its public port.` };
  }
  if (samples.length < 3) {
    return { kind: 'unknown', samples, explanation: `Ports are not preserved; ${samples.length} sample(s) are too few to tell sequential from random.` };
  }
  const deltas = samples.slice(1).map((s, i) => s.mapped - at(samples, i).mapped);
  const counts = new Map<number, number>();
  for (const d of deltas) counts.set(d, (counts.get(d) ?? 0) + 1);
  // deltas has at least two entries (samples.length >= 3), so counts is not empty.
  const [step, hits] = at([...counts].sort((a, b) => b[1] - a[1]), 0);
  // Another host behind the same NAT may take a port in between: allow one miss.
  const enough = hits >= Math.max(2, deltas.length - 1);
  // The same bound the sessions punch by (port-step.ts), so "sequential" here means what it means there.
  if (isSequentialStep(step) && enough) {
    return {
      kind: 'sequential',
      step,
      samples,
      explanation: `Ports are allocated in sequence, step ${step}: public ports ${samples.map((s) => s.mapped).join(', ')} for ${samples.length} sockets opened one after another. The next port can be predicted.`,
    };
  }
  return {
    kind: 'random',
    samples,
    explanation: `Ports look random: public ports ${samples.map((s) => s.mapped).join(', ')} for ${samples.length} sockets opened one after another. The next port cannot be predicted.`,
  };
}

function hairpinResult(works: boolean | undefined, noNat: boolean, notRun: string[]): HairpinResult {
  if (noNat) return { works: null, explanation: 'Not applicable: no NAT.' };
  if (works === undefined) {
    notRun.push('hairpinning: not tested');
    return { works: null, explanation: 'Not tested.' };
  }
  return works
    ? { works: true, explanation: 'Hairpinning works: a packet to your own public address came back in, so two machines behind this NAT can reach each other by their public addresses.' }
    : { works: false, explanation: 'No hairpinning: a packet to your own public address did not come back, so two machines behind this NAT must use their local addresses to reach each other.' };
}

function summarise(
  noNat: boolean,
  mapped: UdpEndpoint,
  mapping: BehaviourResult,
  filtering: BehaviourResult,
  ports: PortAllocationResult,
  hairpin: HairpinResult,
): string {
  const lines: string[] = [];
  lines.push(noNat ? `No NAT: your public address is your own, ${formatEndpoint(mapped)}.` : `Behind a NAT; your public address is ${formatEndpoint(mapped)}.`);
  if (!noNat) lines.push(mapping.explanation);
  lines.push(filtering.explanation);
  if (!noNat) lines.push(ports.explanation);
  if (hairpin.works !== null) lines.push(hairpin.explanation);
  lines.push(outlook(noNat, mapping, filtering, ports));
  return lines.join(' ');
}

function outlook(noNat: boolean, mapping: BehaviourResult, filtering: BehaviourResult, ports: PortAllocationResult): string {
  if (noNat) {
    return filtering.behaviour === 'endpoint-independent'
      ? 'For direct connections: ideal, peers can reach you directly.'
      : 'For direct connections: easy; hole punching works with almost any peer.';
  }
  if (mapping.behaviour === 'endpoint-independent') return 'For direct connections: easy; hole punching works with almost any peer.';
  if (mapping.tested && mapping.possible.every((b) => b !== 'address-and-port-dependent')) {
    return 'For direct connections: probably easy (the public port stayed the same across server ports).';
  }
  if (mapping.behaviour !== null) {
    return ports.kind === 'sequential'
      ? 'For direct connections: hard but predictable; hole punching can guess the next public port.'
      : 'For direct connections: hard; works only with a peer behind an easy NAT (birthday probing), otherwise the relay is used.';
  }
  return 'For direct connections: unknown until the untested behaviours are known.';
}

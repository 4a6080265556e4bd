import type { ClientMessage } from '../../src/control/index.js';
import type { Candidate } from '../../src/punch/index.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { DiscoveryResult } from './options.js';

/** A sequential NAT's next mappings are predicted this many steps ahead. */
const PREDICTED_PORTS = 8;

const UDP_BLOCKED = 'UDP is blocked here: no STUN answer from the rendezvous over UDP';

/**
 * The candidates one attempt's socket offers: the router's port mapping
 * (first: the peer probes it first), host addresses, the server-reflexive
 * one, predicted ports.
 */
export function candidatesFor(found: DiscoveryResult, hostAddresses: readonly string[], port: number, mapped: Candidate | null = null): Candidate[] {
  const candidates: Candidate[] = [];
  if (mapped !== null) candidates.push(mapped);
  for (const address of hostAddresses) candidates.push({ kind: 'host', address, port });
  if (found.srflx) candidates.push({ kind: 'srflx', ...found.srflx });
  if (found.srflx && found.nat.mapping === 'dependent' && found.nat.allocation === 'sequential' && found.nat.step) {
    // The next mappings of a sequential NAT follow the last one seen.
    for (let k = 1; k <= PREDICTED_PORTS; k++) {
      const p = found.srflx.port + k * found.nat.step;
      if (p > 0 && p < 65536) candidates.push({ kind: 'predicted', address: found.srflx.address, port: p });
    }
  }
  return candidates;
}

/**
 * One attempt's candidates from what its session sockets found: the primary
 * socket's (IPv4, or the only one) when UDP works there, the IPv6 socket's
 * (its bound global address and what STUN saw: they differ only behind
 * NPTv6/NAT66) when STUN answered over IPv6; `why` says why a family offers none.
 */
export function attemptCandidates(args: {
  primary: { found: DiscoveryResult; hosts: readonly string[]; port: number; mapped: Candidate | null; is6: boolean };
  v6: { found: DiscoveryResult; local: UdpEndpoint; host: boolean } | null;
}): { candidates: Candidate[]; why: string[]; offeredIpv6: boolean } {
  const { primary, v6 } = args;
  const first = primary.found.nat.udp ? candidatesFor(primary.found, primary.hosts, primary.port, primary.mapped) : [];
  const why: string[] = [];
  let second: Candidate[] = [];
  if (v6 !== null) {
    if (v6.found.nat.udp) second = candidatesFor(v6.found, v6.host ? [v6.local.address] : [], v6.local.port);
    else why.push(`IPv6: ${v6.found.reason ?? 'no STUN answer over IPv6'}`);
  }
  return { candidates: [...first, ...second], why, offeredIpv6: primary.is6 ? first.length > 0 : second.length > 0 };
}

/**
 * A message for the control channel, with the session's ticket added to an
 * offer when the control connection is not the one the session was set up
 * on: the rendezvous knows this peer by its connection, and the ticket is
 * how a new one proves it is the same side of the session. Only then: a
 * rendezvous that predates the field refuses it.
 */
export function withRejoinTicket(m: ClientMessage, ticket: string, reconnected: boolean): ClientMessage {
  return m.type === 'offer' && reconnected ? { ...m, ticket } : m;
}

/**
 * The control-channel offer for attempt `attempt`. `found` is what the
 * IPv4 session socket (or the only one) learned: its NAT behaviour is what
 * the peer plans with. `candidates` are all the families' candidates that
 * work (an IPv4 list only when IPv4 UDP works, an IPv6 list only when STUN
 * answered over IPv6); none, and why, when neither works.
 */
export function buildOffer(connId: string, attempt: number, found: DiscoveryResult, candidates: Candidate[], why: readonly string[] = []): ClientMessage {
  const nat = found.nat;
  const offer: ClientMessage = {
    type: 'offer',
    connId,
    attempt,
    candidates,
    nat: nat.step === undefined ? { udp: nat.udp, mapping: nat.mapping, allocation: nat.allocation } : { ...nat, step: nat.step },
  };
  if (candidates.length === 0) offer.reason = [found.reason ?? UDP_BLOCKED, ...why].join('; ');
  return offer;
}

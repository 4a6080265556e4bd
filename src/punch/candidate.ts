import { normaliseEndpoint } from '../net/endpoint.js';
import type { UdpEndpoint } from '../net/udp-socket.js';

/**
 * Where a peer might be reached, in the order they are tried:
 *  - mapped: a port the peer's home router maps to its socket on request
 *    (NAT-PMP, PCP, UPnP IGD; src/portmap): reachable from anywhere without
 *    punching, if the router really forwards (only an answer proves it);
 *  - host: an address of the peer's own interfaces (works on a shared LAN);
 *  - srflx: the peer's address as the rendezvous saw it (server-reflexive);
 *  - predicted: a guess at a sequential NAT's next mapping;
 *  - prflx: learned from an authenticated probe that arrived from an address
 *    nobody announced (peer-reflexive: the peer's NAT mapped it anew).
 */
export type CandidateKind = 'mapped' | 'host' | 'srflx' | 'predicted' | 'prflx';

export interface Candidate extends UdpEndpoint {
  kind: CandidateKind;
}

export const CANDIDATE_PRIORITY: Record<CandidateKind, number> = { mapped: -1, host: 0, srflx: 1, prflx: 2, predicted: 3 };

/** How a path is described to users: a LAN address or the internet. */
export function describeCandidate(c: Candidate): 'direct LAN' | 'direct internet' {
  return c.kind === 'host' ? 'direct LAN' : 'direct internet';
}

/** Drops duplicates (same endpoint after normaliseEndpoint; first kind wins, in priority order) and keeps at most `max`. */
export function normaliseCandidates(list: readonly Candidate[], max: number): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of [...list].sort((a, b) => CANDIDATE_PRIORITY[a.kind] - CANDIDATE_PRIORITY[b.kind])) {
    const n = normaliseEndpoint(c);
    const key = `${n.address}|${n.port}`;
    if (seen.has(key) || c.port < 1 || c.port > 65535) continue;
    seen.add(key);
    out.push(c);
    if (out.length >= max) break;
  }
  return out;
}

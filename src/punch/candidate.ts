import { normaliseEndpoint } from '../net/endpoint.js';
import { addressFamily, samePrefix } from '../net/ip.js';
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

export type PathLabel = 'direct LAN' | 'direct internet' | 'direct LAN IPv6' | 'direct internet IPv6';

/** How a path is described to users: a LAN or the internet, and the family when it is IPv6. */
export function describePath(p: { address: string; lan: boolean }): PathLabel {
  const where = p.lan ? 'direct LAN' : 'direct internet';
  return addressFamily(p.address) === 6 ? `${where} IPv6` : where;
}

/**
 * Whether a peer's candidate is on a LAN we share. An IPv4 host address is
 * private behind a NAT, so answering at all means a LAN. An IPv6 host address
 * is usually global (no NAT): it is a LAN only when it is in one of our own
 * /64s; otherwise it is the internet, behind the peer's firewall.
 */
export function isLanCandidate(c: Candidate, localHosts: readonly string[]): boolean {
  if (c.kind !== 'host') return false;
  if (addressFamily(c.address) !== 6) return true;
  return localHosts.some((l) => samePrefix(l, c.address, 64));
}

/** Could this candidate share a LAN with us (worth a short wait for its answer)? IPv4: same /24 as one of ours; IPv6: same /64. */
export function sharesSubnet(c: Candidate, localHosts: readonly string[]): boolean {
  if (c.kind !== 'host') return false;
  const bits = addressFamily(c.address) === 6 ? 64 : 24;
  return localHosts.some((l) => samePrefix(l, c.address, bits));
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

import type { ClientMessage } from '../../src/control/index.js';
import type { Candidate } from '../../src/punch/index.js';
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

/** The control-channel offer for attempt `attempt`: no candidates, and why, when UDP does not work here. */
export function buildOffer(connId: string, attempt: number, found: DiscoveryResult, candidates: Candidate[]): ClientMessage {
  const nat = found.nat;
  const offer: ClientMessage = {
    type: 'offer',
    connId,
    attempt,
    candidates: nat.udp ? candidates : [],
    nat: nat.step === undefined ? { udp: nat.udp, mapping: nat.mapping, allocation: nat.allocation } : { ...nat, step: nat.step },
  };
  if (!nat.udp) offer.reason = found.reason ?? UDP_BLOCKED;
  return offer;
}

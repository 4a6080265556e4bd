/**
 * In-process scenario: a NAT's mapping table flushed mid-transfer (like
 * `conntrack -F` on the router), on a port-restricted pair, while a large
 * transfer runs on the direct path. The flush drops the provider NAT's
 * mapping; the visitor's next packets to that port find none and (the Linux
 * conntrack clash) leave an unreplied entry, so the provider's next packet
 * gets a new public port, which the visitor's NAT filters: the direct path is
 * dead both ways. Wanted: the session notices (`direct-lost`), the relay
 * carries on, a fresh punch brings the path back (`direct-up`), and the
 * transfer completes byte-exact.
 *
 * With `resetTcp`, a peer's TCP connections also die at the flush, to resets
 * (conntrack -F on its router, and the rendezvous sent first): its control
 * channel and the relay link. That peer reconnects its control channel and
 * must punch again on the new one, with no relay to carry the session
 * meanwhile.
 */
import { performance } from 'node:perf_hooks';
import { SCENARIOS, faultOf } from '../../scenarios/spec.js';
import type { LabProfileName } from '../topology.js';
import { finish, firstAfter, startDirect, transferWithHook, transferPart, type MidTransferResult } from './common.js';

export interface VirtualFlushOptions {
  seed?: number;
  /** Bytes each way. */
  sizeBytes: number;
  /** Whose site's NAT is flushed. Default: the spec's first. */
  flush?: 'provider' | 'visitor';
  /** Profile of both sites. Default: the spec's. */
  profile?: LabProfileName;
  /** Fraction of the download received when the flush happens. Default: the spec's. */
  atFraction?: number;
  /** This peer also loses its TCP connections (control, relay) to resets at the flush. */
  resetTcp?: 'provider' | 'visitor';
}

export interface VirtualFlushResult extends MidTransferResult {
  /** Mappings the flush dropped. */
  flushedMappings: number;
  /** TCP connections of the resetTcp peer reset at the flush. */
  resetConnections: number;
  /** Peers the rendezvous let take their session side back on a new control connection. */
  rejoined: number;
  /** Virtual ms: flush → direct-lost (visitor), flush → direct-up again (visitor). */
  lostAfterMs: number | null;
  backAfterMs: number | null;
  /** Download bytes that arrived between direct-lost and direct-up again (what the relay carried of it). */
  bytesOverRelay: number | null;
  /** Longest time (virtual ms) after the flush in which no download byte arrived. */
  longestStallMs: number;
}

const FAULT = faultOf('conntrack-flush', 'flush-nat');

export async function virtualFlushScenario(opts: VirtualFlushOptions): Promise<VirtualFlushResult> {
  const real0 = performance.now();
  const seed = opts.seed ?? 7;
  const profile = opts.profile ?? SCENARIOS['conntrack-flush'].topology.provider;
  const { lab, directMs } = await startDirect({ provider: profile, visitor: profile, seed, upBytes: opts.sizeBytes, downBytes: opts.sizeBytes });
  const siteOf = (who: 'provider' | 'visitor') => lab.topo.site(who === 'visitor' ? 'b' : 'a');
  const nat = siteOf(opts.flush ?? FAULT.nats[0] ?? 'provider').nat;
  if (nat === null) throw new Error(`${profile} has no NAT to flush`);
  let flushedMappings = 0;
  let resetConnections = 0;
  // Download progress at the moments the visitor lost and regained the direct path.
  let receivedAtLost: number | null = null;
  let receivedAtBack: number | null = null;
  let flushAt = Infinity;
  let lastProgressAt = 0;
  let lastReceived = 0;
  let longestStallMs = 0;
  const t = await transferWithHook(lab, {
    atFraction: opts.atFraction ?? FAULT.atFraction,
    limitMs: 600_000,
    hook: () => {
      flushAt = lab.now;
      flushedMappings = nat.flush();
      if (opts.resetTcp !== undefined) resetConnections = lab.tcp.resetConnectionsOf(siteOf(opts.resetTcp).host);
    },
    watch: (received) => {
      if (received !== lastReceived || lab.now < flushAt) {
        if (lab.now >= flushAt) longestStallMs = Math.max(longestStallMs, lab.now - Math.max(lastProgressAt, flushAt));
        lastReceived = received;
        lastProgressAt = lab.now;
      }
      if (receivedAtLost === null && firstAfter(lab.events, 'visitor', 'direct-lost', flushAt)) receivedAtLost = received;
      if (receivedAtLost !== null && receivedAtBack === null && firstAfter(lab.events, 'visitor', 'direct-up', flushAt)) receivedAtBack = received;
    },
  });
  const lost = firstAfter(lab.events, 'visitor', 'direct-lost', flushAt);
  const back = lost ? firstAfter(lab.events, 'visitor', 'direct-up', lost.t) : undefined;
  const rejoined = lab.log('rendezvous', 'punch-peer-rejoined').length;
  const base = await finish(lab, seed, directMs, real0);
  return {
    ...base,
    ...transferPart(t, opts.sizeBytes),
    faultAt: t.hookAt,
    flushedMappings,
    resetConnections,
    rejoined,
    lostAfterMs: lost && t.hookAt !== null ? lost.t - t.hookAt : null,
    backAfterMs: back && t.hookAt !== null ? back.t - t.hookAt : null,
    bytesOverRelay: receivedAtLost !== null && receivedAtBack !== null ? receivedAtBack - receivedAtLost : null,
    longestStallMs,
  };
}

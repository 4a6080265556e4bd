/**
 * In-process scenario: the rendezvous goes away (every socket closed, its TCP
 * listener and connections and its UDP STUN ports) while a large transfer
 * runs on the direct path. The relay links and the control channels die with
 * it; the peers log `relay-lost` and keep trying to reach the rendezvous in
 * the background. Wanted: the session stays on the direct path and the
 * transfer completes byte-exact, at the same pace.
 */
import { performance } from 'node:perf_hooks';
import { SCENARIOS, faultOf } from '../../scenarios/spec.js';
import type { LabProfileName } from '../topology.js';
import { finish, startDirect, transferWithHook, transferPart, type MidTransferResult } from './common.js';

export interface VirtualRendezvousGoneOptions {
  seed?: number;
  /** Bytes each way. */
  sizeBytes: number;
  /** Profile of both sites. Default: the spec's. */
  profile?: LabProfileName;
  /** Fraction of the download received when the rendezvous closes. Default: the spec's. */
  atFraction?: number;
}

export interface VirtualRendezvousGoneResult extends MidTransferResult {
  /** Virtual time the rendezvous closed, relative to the transfer's start. */
  closedAfterMs: number | null;
  /** Path events of the visitor after the close (should hold no direct-lost). */
  pathAfterClose: string[];
}

export async function virtualRendezvousGoneScenario(opts: VirtualRendezvousGoneOptions): Promise<VirtualRendezvousGoneResult> {
  const real0 = performance.now();
  const seed = opts.seed ?? 8;
  const profile = opts.profile ?? SCENARIOS['rendezvous-kill'].topology.provider;
  const { lab, directMs } = await startDirect({ provider: profile, visitor: profile, seed, upBytes: opts.sizeBytes, downBytes: opts.sizeBytes });
  const t = await transferWithHook(lab, { atFraction: opts.atFraction ?? faultOf('rendezvous-kill', 'rendezvous-down').atFraction, limitMs: 600_000, hook: () => lab.closeRendezvous() });
  const after = t.hookAt ?? Infinity;
  const pathAfterClose = lab.events
    .filter((e) => e.t >= after && e.fields.component === 'visitor' && (e.event === 'path' || e.event === 'direct-lost' || e.event === 'relay-lost'))
    .map((e) => `${e.event}${e.fields.path !== undefined ? ` ${String(e.fields.path)}` : ''}`);
  const base = await finish(lab, seed, directMs, real0);
  return {
    ...base,
    ...transferPart(t, opts.sizeBytes),
    faultAt: t.hookAt,
    closedAfterMs: t.hookAt === null ? null : t.hookAt - t.startedAt,
    pathAfterClose,
  };
}

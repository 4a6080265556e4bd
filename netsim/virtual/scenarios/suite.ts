/**
 * The in-process lane's runner for the scenarios of ../../scenarios/spec.ts:
 * each spec becomes one scenario run here with the spec's topology, fault
 * and traffic, judged against the spec's expectation for the mode. What the
 * lane cannot do is reported as not applicable, with the spec's reason.
 * Every run is on the fake clock and repeats for its seed.
 */
import { performance } from 'node:perf_hooks';
import { at } from '../../../src/util/at.js';
import { SCENARIOS, notApplicable, type Expectation, type ScenarioMode, type ScenarioName } from '../../scenarios/spec.js';
import { verdictOf, type ScenarioReport } from '../../scenarios/outcome.js';
import type { LogEvent } from '../log.js';
import type { VirtualScenarioBase } from './common.js';
import { virtualFlushScenario } from './flush.js';
import { virtualIdleScenario } from './idle.js';
import { virtualRendezvousGoneScenario } from './rendezvous-gone.js';
import { virtualSameSiteScenario } from './same-site.js';
import { virtualSprayScenario } from './spray.js';

export interface VirtualSuiteOptions {
  /** Bytes each way of the transfers something breaks mid-way. */
  transferBytes: number;
  /** Seed of the scenario's lab (default: each scenario's own). */
  seed?: number;
}

/** `npm test` and `burrow netsim scenarios --lane virtual`: 64 MiB, the size the flush needs to land mid-transfer with room. */
export const VIRTUAL_SUITE_SIZES: VirtualSuiteOptions = { transferBytes: 64 * 1024 * 1024 };

/** What every in-process run must show: no error, nothing left open. */
function baseFailures(r: VirtualScenarioBase, e: Expectation): string[] {
  const f: string[] = [];
  if (r.error !== undefined) f.push(`the run failed: ${r.error}`);
  if (r.leftSockets || r.leftListeners) f.push(`${r.leftSockets} sockets and ${r.leftListeners} listeners left open after teardown`);
  if (e.startsDirect && r.directMs === null) f.push('no direct path before the fault');
  return f;
}

function transferFailures(r: { upVerified: boolean; downVerified: boolean; transferError?: string }, e: Expectation): string[] {
  const ok = r.upVerified && r.downVerified && r.transferError === undefined;
  if (e.transfer === 'lost') return ok ? ['the transfer completed although it should have been lost'] : [];
  if (e.transfer === 'byte-exact' && !ok) return [`the transfer was not byte-exact both ways (${r.transferError ?? 'verification failed'})`];
  return [];
}

/** Each peer logged each event within the bound after the fault. */
function noticeFailures(events: readonly LogEvent[], faultAt: number | null | undefined, e: Expectation): string[] {
  if (!e.notice) return [];
  if (faultAt === null || faultAt === undefined) return ['the fault never hit (the transfer ended first)'];
  const f: string[] = [];
  for (const who of ['visitor', 'provider']) {
    for (const event of e.notice.events) {
      const hit = events.find((x) => x.t >= faultAt && x.fields.component === who && x.event === event);
      if (!hit || hit.t - faultAt > e.notice.withinMs) f.push(`the ${who} did not log ${event} within ${e.notice.withinMs} ms`);
    }
  }
  return f;
}

const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;

/** Runs one scenario of the spec in process, or says why it does not run here. */
export async function runVirtualScenario(name: ScenarioName, mode: ScenarioMode, o: VirtualSuiteOptions = VIRTUAL_SUITE_SIZES): Promise<ScenarioReport> {
  const why = notApplicable(name, 'virtual', mode);
  if (why !== undefined) return { name, lane: 'virtual', mode, notApplicable: why };
  const spec = SCENARIOS[name];
  const e = spec.expect[mode];
  const { provider, visitor } = spec.topology;
  const seed = o.seed !== undefined ? { seed: o.seed } : {};
  const requestBytes = spec.traffic.kind === 'requests' ? spec.traffic.bytesEachWay : o.transferBytes;
  const t0 = performance.now();
  const done = (failures: string[], lines: string[], result: object): ScenarioReport => ({
    name, lane: 'virtual', mode, verdict: verdictOf(name, mode, failures), lines, result, ms: performance.now() - t0,
  });
  const f = spec.fault;
  switch (f.kind) {
    case 'flush-nat': {
      if (provider !== visitor) throw new Error(`${name}: the in-process flush runs one profile on both sides`);
      const rounds = [];
      for (const nat of f.nats) rounds.push(await virtualFlushScenario({ ...seed, sizeBytes: o.transferBytes, flush: nat, profile: provider, atFraction: f.atFraction }));
      const failures = rounds.flatMap((r, i) => [...baseFailures(r, e), ...transferFailures(r, e)].map((x) => `flush in the ${f.nats[i]}'s NAT: ${x}`));
      const lines = rounds.map(
        (r, i) =>
          `flush in the ${f.nats[i]}'s NAT (${r.flushedMappings} mapping(s)): direct lost after ${r.lostAfterMs ?? '-'} ms, back after ${r.backAfterMs ?? '-'} ms; ` +
          `longest stall ${Math.round(r.longestStallMs)} ms; transfer ${r.transferMs === null ? 'FAILED' : `${Math.round(r.transferMs)} ms`} (virtual)`,
      );
      return done(failures, lines, { rounds });
    }
    case 'rendezvous-down': {
      const r = await virtualRendezvousGoneScenario({ ...seed, sizeBytes: o.transferBytes, profile: provider, atFraction: f.atFraction });
      const failures = [...baseFailures(r, e), ...transferFailures(r, e), ...noticeFailures(r.events, r.faultAt, e)];
      if (e.startsDirect && r.pathAfterClose.some((p) => p.startsWith('direct-lost'))) failures.push(`the direct path was lost after the rendezvous went (${r.pathAfterClose.join(', ')})`);
      return done(failures, [`rendezvous closed ${r.closedAfterMs ?? '-'} ms into the transfer; transfer ${r.transferMs ?? 'FAILED'} ms (virtual); visitor after: ${r.pathAfterClose.join(', ') || 'nothing'}`], r);
    }
    case 'idle': {
      const r = await virtualIdleScenario({ ...seed, sizeBytes: requestBytes, idleMs: f.idleMs[mode], provider, visitor });
      const failures = baseFailures(r, e);
      if (!r.first.ok) failures.push(`the request before the idle time failed (${r.first.error})`);
      if (!r.second.ok) failures.push(`the request after ${f.idleMs[mode]} ms idle failed (${r.second.error})`);
      if (e.requestWithinMs !== undefined && r.second.ok && (r.second.totalMs ?? Infinity) > e.requestWithinMs) failures.push(`the request after the idle time took ${r.second.totalMs} ms (bound ${e.requestWithinMs} ms)`);
      if (e.startsDirect && r.second.ok && !(r.second.path ?? '').startsWith('direct')) failures.push(`the request after the idle time went ${r.second.path ?? 'an unknown path'}, not direct`);
      return done(failures, [`${kib(requestBytes)} each way, ${f.idleMs[mode]} ms idle: after it ${r.second.ok ? `ok (${r.second.path}) in ${r.second.totalMs} ms` : 'FAILED'}; ${r.lostWhileIdle} direct paths lost while idle, ${r.upWhileIdle} punched again (virtual)`], r);
    }
    case 'replay': {
      const r = await virtualSprayScenario({ ...seed, sizeBytes: requestBytes, victimProfile: provider, visitorProfile: visitor, everyMs: f.everyMs });
      const failures = [...baseFailures(r, e), ...transferFailures(r, e)];
      const attacker = at(r.attacker.split(':'), 0);
      if (r.sent.replayed === 0) failures.push('nothing was replayed (the scenario did not test anything)');
      if (!lockedOnlyOnto(r.providerLocked, r.visitorPublic)) failures.push(`the provider locked onto ${r.providerLocked.join(', ') || 'nothing'}, not the visitor's mapping`);
      if (!lockedOnlyOnto(r.visitorLocked, r.providerPublic)) failures.push(`the visitor locked onto ${r.visitorLocked.join(', ') || 'nothing'}, not the provider's mapping`);
      if ([...r.providerLocked, ...r.visitorLocked].some((x) => x.startsWith(`${attacker}:`))) failures.push('a peer locked onto the attacker');
      return done(failures, [`attacker sent ${JSON.stringify(r.sent)}, ${r.reachedVictim} reached the victim's socket; locked: provider ${r.providerLocked.join(' ')}, visitor ${r.visitorLocked.join(' ')}`], r);
    }
    case 'none': {
      const r = await virtualSameSiteScenario({ ...seed, sizeBytes: requestBytes, profile: provider });
      const failures = [...baseFailures(r, e), ...transferFailures(r, e)];
      if (spec.topology.sameSite && r.path !== 'direct LAN') failures.push(`the connection went ${r.path ?? 'an unknown path'}, not "direct LAN"`);
      return done(failures, [`path ${r.path}; ${r.hairpinDrops} hairpin attempts dropped by the NAT; transfer ${r.totalMs ?? 'FAILED'} ms (virtual)`], r);
    }
    case 'spray':
      throw new Error(`${name}: the spec runs it in process, but the in-process lane has no off-path spray`);
  }
}

/** True when a peer locked onto exactly one endpoint and it is on `address`. */
function lockedOnlyOnto(locked: readonly string[], address: string): boolean {
  const [only, ...more] = locked;
  return only !== undefined && more.length === 0 && only.startsWith(`${address}:`);
}

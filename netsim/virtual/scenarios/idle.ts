/**
 * In-process scenario: the short-lifetime profile (NAT mappings forgotten
 * after 5 s without traffic) on both sides, a first request over the direct
 * path, then the tunnel idles for 60 s (virtual), then a second request.
 *
 * The DirectLink's keepalive starts at 15 s, longer than the mappings live,
 * so the idle direct path dies; the session falls back to the relay, punches
 * again, and — because the path died after idling — halves its keepalive
 * (`keepalive-shortened`) until it is short enough to hold the mappings.
 * Wanted: the second request goes through byte-exact, and the session ends
 * on the direct path. The result says how long the second request took and
 * which path it used.
 *
 * The session's mux keepalive (a ping every 10 s) runs on the virtual clock
 * as in a real run, so the NATs see it and the DirectLink's keepalives while
 * the tunnel idles.
 */
import { at } from '../../../src/util/at.js';
import { performance } from 'node:perf_hooks';
import type { LabProfileName } from '../topology.js';
import { finish, startDirect, type VirtualScenarioBase } from './common.js';

export interface VirtualIdleOptions {
  seed?: number;
  /** Bytes each way per request. Default 256 KiB. */
  sizeBytes?: number;
  /** Virtual idle time between the requests. Default 60 s. */
  idleMs?: number;
  /** Profile of both sites. Default short-lifetime (5 s mappings). */
  profile?: LabProfileName;
  /** The provider's and the visitor's site profile, when they differ (default: profile). */
  provider?: LabProfileName;
  visitor?: LabProfileName;
}

export interface IdleRequest {
  ok: boolean;
  /** The path the visitor logged for this connection. */
  path: string | null;
  /** Virtual ms from connect to first byte back, and to both directions verified. */
  ttfbMs: number | null;
  totalMs: number | null;
  error?: string;
}

export interface VirtualIdleResult extends VirtualScenarioBase {
  idleMs: number;
  first: IdleRequest;
  second: IdleRequest;
  /** Direct paths lost and regained while idle, and the keepalive changes. */
  lostWhileIdle: number;
  upWhileIdle: number;
  keepalive: Array<{ t: number; fromMs: number; toMs: number; idleBeforeLossMs: number }>;
  /** The visitor's last path event and whether the session ended on the direct path. */
  lastPath: string | null;
  endsDirect: boolean;
}

export async function virtualIdleScenario(opts: VirtualIdleOptions = {}): Promise<VirtualIdleResult> {
  const real0 = performance.now();
  const seed = opts.seed ?? 10;
  const size = opts.sizeBytes ?? 256 * 1024;
  const idleMs = opts.idleMs ?? 60_000;
  const profile = opts.profile ?? 'short-lifetime';
  const { lab, directMs } = await startDirect({
    provider: opts.provider ?? profile,
    visitor: opts.visitor ?? profile,
    seed,
    upBytes: size,
    downBytes: size,

  });
  const request = async (id: number): Promise<IdleRequest> => {
    const r = await lab.requestToEnd(120_000);
    const conn = lab.log('visitor', 'connection').find((e) => e.fields.id === id);
    return {
      ok: r.ok,
      path: typeof conn?.fields.path === 'string' ? conn.fields.path : null,
      ttfbMs: r.ttfbMs,
      totalMs: r.totalMs,
      ...(r.ok ? {} : { error: r.error ?? 'failed' }),
    };
  };
  const first = await request(1);
  const idleFrom = lab.now;
  await lab.scheduler.advance(idleMs);
  const idleTo = lab.now;
  const second = await request(2);
  const during = (event: string) => lab.log('visitor', event).filter((e) => e.t >= idleFrom && e.t < idleTo);
  const keepalive = lab.log('visitor', 'keepalive-shortened').map((e) => ({
    t: e.t,
    fromMs: Number(e.fields.fromMs),
    toMs: Number(e.fields.toMs),
    idleBeforeLossMs: Number(e.fields.idleBeforeLossMs),
  }));
  const paths = lab.log('visitor', 'path');
  const lastPath = paths.length > 0 ? String(at(paths, paths.length - 1).fields.path) : null;
  const endsDirect = lastPath !== null && lastPath.startsWith('direct') && lab.visitor !== null;
  const base = await finish(lab, seed, directMs, real0);
  return {
    ...base,
    idleMs,
    first,
    second,
    lostWhileIdle: during('direct-lost').length,
    upWhileIdle: during('direct-up').length,
    keepalive,
    lastPath,
    endsDirect,
  };
}

/**
 * In-process scenario: both peers in one site, two hosts behind the same NAT
 * that does not hairpin (the no-hairpin profile: port-restricted cone,
 * hairpinning off). Their public candidates are the same public address, and
 * a packet from inside to the NAT's own public address is dropped
 * (`hairpin-off`), so the only way is the LAN: each offers its own interface
 * address as a host candidate, the punch probes it, and the session runs
 * "direct LAN" without ever crossing the NAT.
 */
import { performance } from 'node:perf_hooks';
import { SCENARIOS } from '../../scenarios/spec.js';
import type { LabProfileName } from '../topology.js';
import { finish, startDirect, type VirtualScenarioBase } from './common.js';

export interface VirtualSameSiteOptions {
  seed?: number;
  /** Bytes each way. Default 1 MiB. */
  sizeBytes?: number;
  /** The site's profile. Default: the spec's. */
  profile?: LabProfileName;
}

export interface VirtualSameSiteResult extends VirtualScenarioBase {
  providerHost: string;
  visitorHost: string;
  /** The path the visitor logged for the connection, and where each peer locked. */
  path: string | null;
  providerLocked: string[];
  visitorLocked: string[];
  /** Packets the NAT dropped as hairpin attempts, and packets it translated for the peers' direct path. */
  hairpinDrops: number;
  upVerified: boolean;
  downVerified: boolean;
  totalMs: number | null;
  transferError?: string;
}

export async function virtualSameSiteScenario(opts: VirtualSameSiteOptions = {}): Promise<VirtualSameSiteResult> {
  const real0 = performance.now();
  const seed = opts.seed ?? 11;
  const size = opts.sizeBytes ?? 1024 * 1024;
  const profile = opts.profile ?? SCENARIOS['same-site'].topology.provider;
  const { lab, directMs } = await startDirect({ provider: profile, visitor: profile, seed, upBytes: size, downBytes: size, sameSite: true });
  const r = await lab.requestToEnd(120_000);
  const conn = lab.log('visitor', 'connection')[0];
  const locked = (who: 'provider' | 'visitor'): string[] => lab.log(who, 'direct-up').map((e) => `${String(e.fields.path)} ${String(e.fields.remote)}`);
  const nat = lab.topo.site('a').nat;
  const hairpinDrops = nat?.drops['hairpin-off'] ?? 0;
  const providerHost = lab.providerHost.address;
  const visitorHost = lab.visitorHost.address;
  const providerLocked = locked('provider');
  const visitorLocked = locked('visitor');
  const base = await finish(lab, seed, directMs, real0);
  return {
    ...base,
    providerHost,
    visitorHost,
    path: typeof conn?.fields.path === 'string' ? conn.fields.path : null,
    providerLocked,
    visitorLocked,
    hairpinDrops,
    upVerified: r.upVerified,
    downVerified: r.downVerified,
    totalMs: r.totalMs,
    ...(r.ok ? {} : { transferError: r.error ?? 'failed' }),
  };
}

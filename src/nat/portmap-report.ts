/**
 * The port-mapping section's verdict and words, pure: what the probe saw
 * (portmap-probe.ts) and the public IPv4 address the STUN server saw in, a
 * PortMappingReport out.
 */
import { sameAddress } from '../net/endpoint.js';
import { PROTOCOL_NAMES, PROTOCOL_PREFERENCE, type PortMapEvent, type PortMapProtocol } from '../portmap/mapper-core.js';
import type { PortMappingReport } from './report.js';

export interface PortMapObservations {
  /** The router asked; null when there was none. */
  gateway: string | null;
  /** Why no router was asked (no default route, no local address on its network). */
  noGatewayReason?: string;
  /** Protocols that answered the probe. */
  answered: ReadonlySet<PortMapProtocol>;
  /** The mapper's first verdict (mapped or failed); null when none came in time. */
  verdict: Extract<PortMapEvent, { type: 'mapped' | 'failed' }> | null;
  /** What became of the test mapping at exit: 'deleted' or why not; null when none was left to delete. */
  release: string | null;
  /** The lifetime asked for, in seconds. */
  askedLifetimeSeconds: number;
  durationMs: number;
}

/** Why the probe maps a port at all, and what became of it. */
function howWords(obs: PortMapObservations): string {
  const how = 'This probe maps one test UDP port (only a mapping shows the lifetime, and PCP has no address-only question)';
  if (obs.release === 'deleted') return `${how}; it was deleted again before exit.`;
  if (obs.release === null) return `${how}.`;
  return `${how}; the router did not confirm its deletion (${obs.release}), so it expires within ${obs.askedLifetimeSeconds} s.`;
}

function names(ps: readonly PortMapProtocol[]): string {
  return ps.map((p) => PROTOCOL_NAMES[p]).join(', ');
}

/** `stunPublicAddress`: our public IPv4 address as the STUN server saw it, or null when unknown. */
export function portMappingReport(obs: PortMapObservations, stunPublicAddress: string | null): PortMappingReport {
  const answered = PROTOCOL_PREFERENCE.filter((p) => obs.answered.has(p));
  const base = {
    gateway: obs.gateway,
    answered,
    protocol: null,
    externalAddress: null,
    externalPort: null,
    lifetimeSeconds: null,
    behindAnotherNat: null,
    release: obs.release,
    durationMs: obs.durationMs,
  };
  if (obs.gateway === null) {
    return { ...base, status: 'no-gateway', summary: `Port mapping not tested: ${obs.noGatewayReason ?? 'no gateway to ask'}.` };
  }
  const v = obs.verdict;
  const who = answered.length > 0 ? `${names(answered)} answered at ${obs.gateway}` : `the router ${obs.gateway} answered`;
  if (v === null) {
    const heard = answered.length > 0 ? `${names(answered)} answered at ${obs.gateway}, but` : `${obs.gateway}:`;
    return { ...base, status: 'timeout', summary: `${heard} no port-mapping verdict in time. ${releaseWords(obs)}`.trim() };
  }
  if (v.type === 'mapped') {
    const ext = v.externalAddress;
    const aboveBySTUN = stunPublicAddress === null ? null : !sameAddress(stunPublicAddress, ext);
    const asked = v.lifetimeSeconds === obs.askedLifetimeSeconds ? '' : ` (asked for ${obs.askedLifetimeSeconds} s)`;
    let nat: string;
    if (aboveBySTUN === null) nat = 'Whether another NAT sits above the router cannot be told without the STUN answer.';
    else if (aboveBySTUN) {
      nat = `But the STUN server saw this host as ${stunPublicAddress}: another NAT sits above the router (or traffic leaves another way), so a mapping there reaches nobody outside.`;
    } else nat = 'The STUN server saw the same public address: no other NAT above the router, so a mapped port is reachable from the internet.';
    return {
      ...base,
      status: 'mapped',
      protocol: v.protocol,
      externalAddress: ext,
      externalPort: v.externalPort,
      lifetimeSeconds: v.lifetimeSeconds,
      behindAnotherNat: aboveBySTUN,
      summary: `${capital(who)}; ${PROTOCOL_NAMES[v.protocol]} mapped a test port: external ${ext}:${v.externalPort} for ${v.lifetimeSeconds} s${asked}. ${nat} ${howWords(obs)}`,
    };
  }
  switch (v.kind) {
    case 'no-service':
      return {
        ...base,
        status: 'no-router',
        summary: `No router answered NAT-PMP, PCP or UPnP IGD at ${obs.gateway}: port mapping is unavailable (switched off on the router, or not supported).`,
      };
    case 'behind-nat':
      return {
        ...base,
        status: 'behind-nat',
        externalAddress: v.externalAddress ?? null,
        behindAnotherNat: true,
        summary: `${capital(who)}, but ${v.reason}. ${releaseWords(obs)}`.trim(),
      };
    case 'no-address':
    case 'refused':
      return {
        ...base,
        status: 'refused',
        externalAddress: v.kind === 'no-address' ? (v.externalAddress ?? null) : null,
        summary: `${capital(who)}, but no port was mapped: ${v.reason}. ${releaseWords(obs)}`.trim(),
      };
  }
}

function releaseWords(obs: PortMapObservations): string {
  if (obs.release === null) return '';
  if (obs.release === 'deleted') return 'The test mapping was deleted before exit.';
  return `The router did not confirm deleting the test mapping (${obs.release}); it expires within ${obs.askedLifetimeSeconds} s.`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The section when --no-portmap skipped it. */
export function skippedPortMapping(): PortMappingReport {
  return {
    status: 'skipped',
    gateway: null,
    answered: [],
    protocol: null,
    externalAddress: null,
    externalPort: null,
    lifetimeSeconds: null,
    behindAnotherNat: null,
    release: null,
    summary: 'Port mapping not tested (--no-portmap).',
    durationMs: 0,
  };
}

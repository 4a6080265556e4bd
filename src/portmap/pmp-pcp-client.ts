/**
 * NAT-PMP and PCP over a GatewayLink: probe, map (or refresh), unmap. Each
 * call resolves to a typed outcome; nothing throws past here.
 */
import { BurrowError } from '../errors.js';
import type { GatewayLink } from './gateway-link.js';
import type { Grant } from './mapper-core.js';
import {
  NatPmpResult,
  decodeNatPmpResponse,
  encodeExternalAddressRequest,
  encodeMapRequest as encodeNatPmpMap,
  natPmpResultName,
} from './natpmp.js';
import {
  PcpResult,
  decodePcpResponse,
  encodeAnnounceRequest,
  encodeMapRequest as encodePcpMap,
  pcpResponseMatches,
  pcpResultName,
} from './pcp.js';
import type { RetransmitPolicy } from './retransmit.js';

export type MapOutcome =
  | { ok: true; grant: Grant }
  /** `unreachable`: the router did not answer at all (for UPnP: its HTTP server is gone, maybe moved). */
  | {
      ok: false;
      reason: string;
      unreachable?: boolean;
      /** An external address the refusal named anyway (PCP copies it into error responses). */
      externalAddress?: string;
    };

/** Probes send once: an unanswered probe means "not here", not "retry". */
export function probePolicy(waitMs: number): RetransmitPolicy {
  return { rtoMs: waitMs, maxSends: 1, timeoutMs: waitMs };
}

function natPmpAddressAnswer(data: Buffer) {
  const r = decodeNatPmpResponse(data);
  // A v0 server never says "unsupported version" to a v0 request: that is a PCP answer's echo.
  if (r.kind !== 'external-address' || r.resultCode === NatPmpResult.UnsupportedVersion) return undefined;
  return r;
}

/** A probe's verdict: `present` = a server answered at all; `success` = it answered with result 0. */
export interface ProbeAnswer {
  present: boolean;
  success: boolean;
}

export async function probeNatPmp(link: GatewayLink, waitMs: number): Promise<ProbeAnswer> {
  const r = await link.exchange(encodeExternalAddressRequest(), natPmpAddressAnswer, probePolicy(waitMs));
  // Any answer means a server is there; a refusal (say, no external address) is reported by the map attempt.
  return { present: r !== null, success: r !== null && r.resultCode === NatPmpResult.Success };
}

export async function probePcp(link: GatewayLink, clientAddress: string, waitMs: number): Promise<ProbeAnswer> {
  const r = await link.exchange(
    encodeAnnounceRequest(clientAddress),
    (data) => {
      if (data[0] === 0) return undefined; // NAT-PMP's answer (to our NAT-PMP probe, or "PCP unsupported")
      const resp = decodePcpResponse(data);
      // A version-2 UNSUPP_VERSION cannot answer our version-2 ANNOUNCE: it is a PCP-only server
      // refusing our NAT-PMP probe (RFC 6887 section 9; its opcode 0 reads as ANNOUNCE's).
      return resp.opcode === 'announce' && resp.resultCode !== PcpResult.UnsupportedVersion ? resp : undefined;
    },
    probePolicy(waitMs),
  );
  return { present: r !== null, success: r !== null && r.resultCode === PcpResult.Success };
}

export async function mapNatPmp(
  link: GatewayLink,
  internalPort: number,
  suggestedExternalPort: number,
  lifetimeSeconds: number,
  policy: RetransmitPolicy,
): Promise<MapOutcome> {
  const resp = await link.exchange(
    encodeNatPmpMap({ internalPort, suggestedExternalPort, lifetimeSeconds }),
    (data) => {
      const r = decodeNatPmpResponse(data);
      if (r.kind !== 'map' || (r.internalPort !== null && r.internalPort !== internalPort)) return undefined;
      return r;
    },
    policy,
  );
  if (resp === null) return { ok: false, reason: 'no answer to the map request' };
  if (resp.resultCode !== NatPmpResult.Success) return { ok: false, reason: `refused: ${natPmpResultName(resp.resultCode)}` };
  if (lifetimeSeconds === 0) return { ok: true, grant: { protocol: 'natpmp', externalAddress: '', externalPort: 0, lifetimeSeconds: 0, epoch: resp.epoch } };
  if (!resp.lifetimeSeconds || resp.externalPort === null) return { ok: false, reason: 'the router granted no lifetime' };
  const addr = await link.exchange(encodeExternalAddressRequest(), natPmpAddressAnswer, policy);
  if (addr === null) return { ok: false, reason: 'no answer to the external address request' };
  if (addr.resultCode !== NatPmpResult.Success || addr.externalAddress === null) {
    return { ok: false, reason: `external address refused: ${natPmpResultName(addr.resultCode)}` };
  }
  return {
    ok: true,
    grant: {
      protocol: 'natpmp',
      externalAddress: addr.externalAddress,
      externalPort: resp.externalPort,
      lifetimeSeconds: resp.lifetimeSeconds,
      epoch: resp.epoch,
    },
  };
}

export async function mapPcp(
  link: GatewayLink,
  req: { nonce: Uint8Array; clientAddress: string; internalPort: number; suggestedExternalPort: number; lifetimeSeconds: number },
  policy: RetransmitPolicy,
): Promise<MapOutcome> {
  let request: Buffer;
  try {
    request = encodePcpMap(req);
  } catch (e) {
    return { ok: false, reason: e instanceof BurrowError ? e.message : String(e) };
  }
  let versionRefused = false;
  const resp = await link.exchange(
    request,
    (data) => {
      if (data[0] === 0 && data.length >= 2 && data[1] === 128 + 1) {
        // A NAT-PMP-only server's "unsupported version" answer to our PCP MAP (same opcode number).
        versionRefused = data.length >= 4 && data.readUInt16BE(2) === 1;
        return versionRefused ? null : undefined;
      }
      const r = decodePcpResponse(data);
      return pcpResponseMatches(r, req.nonce, req.internalPort) ? r : undefined;
    },
    policy,
  );
  if (versionRefused) return { ok: false, reason: 'the server speaks only NAT-PMP' };
  if (resp === null || resp === undefined) return { ok: false, reason: 'no answer to the MAP request' };
  if (resp.resultCode !== PcpResult.Success) {
    // miniupnpd on a reserved WAN address refuses with NO_RESOURCES but still names that address: worth passing on.
    const named = resp.map?.externalAddress;
    return {
      ok: false,
      reason: `refused: ${pcpResultName(resp.resultCode)}`,
      ...(named !== null && named !== undefined && named !== '0.0.0.0' ? { externalAddress: named } : {}),
    };
  }
  const map = resp.map!;
  if (req.lifetimeSeconds !== 0 && map.externalAddress === null) return { ok: false, reason: 'the server assigned a non-IPv4 external address' };
  if (req.lifetimeSeconds !== 0 && resp.lifetimeSeconds === 0) return { ok: false, reason: 'the server granted no lifetime' };
  return {
    ok: true,
    grant: {
      protocol: 'pcp',
      externalAddress: map.externalAddress ?? '',
      externalPort: map.externalPort,
      lifetimeSeconds: resp.lifetimeSeconds,
      epoch: resp.epoch,
    },
  };
}

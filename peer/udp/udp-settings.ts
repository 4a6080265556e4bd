import { BurrowError } from '../../src/errors.js';
import { UDP_FLOW_LIMITS, UDP_FLOW_TIMERS } from '../../src/udp/index.js';

/** The transport a service carries: TCP connections as streams, or UDP datagrams as flows. */
export type { ServiceProto } from '../../src/control/index.js';

/** A UDP service's flow settings (both peers have them: each bounds its own side). */
export interface UdpSettings {
  /** A flow with no datagram either way for this long is closed. */
  idleMs: number;
  /** Flows per session at most. */
  maxFlows: number;
}

export const DEFAULT_UDP_SETTINGS: UdpSettings = { idleMs: UDP_FLOW_TIMERS.idleMs, maxFlows: UDP_FLOW_LIMITS.maxFlows };

/** Checks user-given values (seconds, count); throws ERR_INVALID_ARGUMENT saying the allowed range. */
export function udpSettings(idleSeconds: number | undefined, maxFlows: number | undefined, what = { idle: 'udp idle', flows: 'udp flows' }): UdpSettings {
  const out = { ...DEFAULT_UDP_SETTINGS };
  if (idleSeconds !== undefined) {
    const ms = idleSeconds * 1000;
    if (!Number.isFinite(ms) || ms < UDP_FLOW_TIMERS.minIdleMs || ms > UDP_FLOW_TIMERS.maxIdleMs) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `${what.idle} must be ${UDP_FLOW_TIMERS.minIdleMs / 1000}-${UDP_FLOW_TIMERS.maxIdleMs / 1000} seconds, got ${idleSeconds}`);
    }
    out.idleMs = ms;
  }
  if (maxFlows !== undefined) {
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > UDP_FLOW_LIMITS.maxFlowsCeiling) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `${what.flows} must be an integer 1-${UDP_FLOW_LIMITS.maxFlowsCeiling}, got ${maxFlows}`);
    }
    out.maxFlows = maxFlows;
  }
  return out;
}

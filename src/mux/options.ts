/**
 * MuxSession options: public shape, defaults, validation. Validation happens
 * once at construction so the hot paths can trust every number.
 */
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import { BurrowError } from '../errors.js';
import { isRole, type Role } from '../role.js';
import { DEFAULT_MAX_FRAME_PAYLOAD, INITIAL_STREAM_WINDOW } from './protocol.js';

export interface MuxOptions {
  /** The initiator opens odd stream ids, the responder even ones. */
  role: Role;
  /**
   * Per-stream receive window in bytes: how much unconsumed data a stream
   * may hold on our side. Default 256 KiB. (Until the first grant the peer
   * may use the protocol's initial 256 KiB regardless, see protocol.ts.)
   */
  initialWindow?: number;
  /**
   * Largest DATA payload this side sends and accepts. Default 16 KiB. Both
   * ends must agree: a bigger incoming frame is a protocol error.
   */
  maxFramePayload?: number;
  /** Concurrently open streams, both directions. Excess incoming SYN is refused with RST. Default 4096. */
  maxStreams?: number;
  /** Send a PING when nothing has been received for this long. 0 = off. Default 15000. */
  keepaliveIntervalMs?: number;
  /** Close the session (ERR_MUX_TIMEOUT) when nothing has been received for this long. 0 = off. Default 45000. */
  keepaliveTimeoutMs?: number;
  /** Time and timers for the keepalive and ping(); default the real event loop (netsim passes a fake clock). */
  scheduler?: Scheduler;
}

export interface ResolvedMuxOptions {
  readonly role: Role;
  readonly initialWindow: number;
  readonly maxFramePayload: number;
  readonly maxStreams: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly scheduler: Scheduler;
}

export const MUX_DEFAULTS = {
  initialWindow: INITIAL_STREAM_WINDOW,
  maxFramePayload: DEFAULT_MAX_FRAME_PAYLOAD,
  maxStreams: 4096,
  keepaliveIntervalMs: 15_000,
  keepaliveTimeoutMs: 45_000,
} as const;

/** Node's timers overflow (and fire at once) above 2^31-1 ms. */
const MAX_TIMER_MS = 0x7fff_ffff;

function intIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `mux option ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

export function resolveMuxOptions(opts: MuxOptions): ResolvedMuxOptions {
  if (!isRole(opts.role)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `mux option role must be 'initiator' or 'responder', got ${String(opts.role)}`);
  }
  return {
    role: opts.role,
    // 1 GiB ceiling: window arithmetic stays far from 2^32 (the length field).
    initialWindow: intIn('initialWindow', opts.initialWindow, MUX_DEFAULTS.initialWindow, 1024, 1 << 30),
    maxFramePayload: intIn('maxFramePayload', opts.maxFramePayload, MUX_DEFAULTS.maxFramePayload, 1, 16 << 20),
    maxStreams: intIn('maxStreams', opts.maxStreams, MUX_DEFAULTS.maxStreams, 1, 1 << 24),
    keepaliveIntervalMs: intIn('keepaliveIntervalMs', opts.keepaliveIntervalMs, MUX_DEFAULTS.keepaliveIntervalMs, 0, MAX_TIMER_MS),
    keepaliveTimeoutMs: intIn('keepaliveTimeoutMs', opts.keepaliveTimeoutMs, MUX_DEFAULTS.keepaliveTimeoutMs, 0, MAX_TIMER_MS),
    scheduler: opts.scheduler ?? realScheduler,
  };
}

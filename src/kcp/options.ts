/**
 * Connection options and their resolution: ikcp defaults, then the mode
 * preset, then explicit fields. Invalid values throw ERR_INVALID_ARGUMENT at
 * construction rather than misbehaving on the wire later.
 */
import { BurrowError } from '../errors.js';
import { KCP_MODES, isKcpMode, type KcpMode } from './modes.js';
import { KCP_OVERHEAD } from './segment.js';
import { isU32 } from './seq.js';

export interface KcpOptions {
  /** u32 conversation id; segments with another conv are refused (counted). */
  conv: number;
  /**
   * Called synchronously during flush with one datagram. The view is only
   * valid during the call (one MTU-sized buffer is reused); copy it if it is
   * kept. Must not call back into the same connection.
   */
  output: (datagram: Uint8Array) => void;
  /** Default 1400; segment payload (MSS) = mtu - 24. */
  mtu?: number;
  /** Default 32. */
  sndwnd?: number;
  /** Default 128; must be >= the fragment count of the largest message. */
  rcvwnd?: number;
  nodelay?: boolean;
  /** Milliseconds, clamped to 10..5000. Default 100 (ikcp) unless a mode sets it. */
  interval?: number;
  /** Fast resend after this many later ACKs; 0 (default) disables it. */
  resend?: number;
  noCongestion?: boolean;
  /** Default 100, 30 when nodelay. */
  minRto?: number;
  /** Stream mode: no message boundaries, recv returns whatever bytes are ready. */
  stream?: boolean;
  /** Transmissions of one segment after which the link is dead. Default 20. */
  deadLink?: number;
  /** Start of snd_una/snd_nxt/rcv_nxt; both sides must use the same value. Default 0. */
  initialSn?: number;
  /** Fast resend only while a segment was sent at most this many times; 0 = no limit. Default 5. */
  fastLimit?: number;
  /** Preset for nodelay/interval/resend/noCongestion, applied before the explicit fields. */
  mode?: KcpMode;
  /**
   * New segments one flush() sends at most; 0 (default) = as many as the
   * windows allow. With a cap, check() keeps returning `now` while more new
   * data is window-allowed, so the driver flushes again on its next turn.
   * Bounds the time one flush takes, so ACKs are read in between and the
   * timestamps (taken once per flush) stay close to the real send times.
   */
  maxBurst?: number;
}

export interface KcpTuning {
  nodelay: boolean;
  interval: number;
  resend: number;
  noCongestion: boolean;
  minRto: number;
}

export interface ResolvedKcpOptions extends KcpTuning {
  conv: number;
  mtu: number;
  sndWnd: number;
  rcvWnd: number;
  stream: boolean;
  deadLink: number;
  initialSn: number;
  fastLimit: number;
  maxBurst: number;
}

export const KCP_DEFAULT_MTU = 1400;
export const KCP_MIN_MTU = 50;
export const KCP_MAX_MTU = 65535;
export const KCP_DEFAULT_SNDWND = 32;
export const KCP_DEFAULT_RCVWND = 128;
export const KCP_DEFAULT_INTERVAL = 100;
export const KCP_MIN_INTERVAL = 10;
export const KCP_MAX_INTERVAL = 5000;
export const KCP_DEFAULT_DEAD_LINK = 20;
export const KCP_DEFAULT_FAST_LIMIT = 5;
export const KCP_RTO_MIN = 100;
export const KCP_RTO_NODELAY_MIN = 30;
export const KCP_RTO_MAX = 60000;
/** The wnd field is a u16, so a larger window could not be advertised. */
export const KCP_MAX_WINDOW = 0xffff;

function invalid(what: string): never {
  throw new BurrowError('ERR_INVALID_ARGUMENT', `invalid KCP option: ${what}`);
}

function intIn(value: number, lo: number, hi: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
    invalid(`${what} must be an integer in [${lo}, ${hi}], got ${String(value)}`);
  }
  return value;
}

export function clampInterval(interval: number): number {
  if (typeof interval !== 'number' || Number.isNaN(interval)) invalid('interval must be a number');
  return Math.min(KCP_MAX_INTERVAL, Math.max(KCP_MIN_INTERVAL, Math.floor(interval)));
}

export function checkMtu(mtu: number): number {
  return intIn(mtu, Math.max(KCP_MIN_MTU, KCP_OVERHEAD + 1), KCP_MAX_MTU, 'mtu');
}

export function checkWindow(wnd: number, what: string): number {
  return intIn(wnd, 1, KCP_MAX_WINDOW, what);
}

/** The tuning a mode implies, with ikcp's minRto for its nodelay setting. */
export function tuningForMode(mode: KcpMode | undefined): KcpTuning {
  if (mode === undefined) {
    return { nodelay: false, interval: KCP_DEFAULT_INTERVAL, resend: 0, noCongestion: false, minRto: KCP_RTO_MIN };
  }
  if (!isKcpMode(mode)) invalid(`unknown mode ${String(mode)}`);
  const p = KCP_MODES[mode];
  return {
    nodelay: p.nodelay,
    interval: p.interval,
    resend: p.resend,
    noCongestion: p.noCongestion,
    minRto: p.nodelay ? KCP_RTO_NODELAY_MIN : KCP_RTO_MIN,
  };
}

export function resolveKcpOptions(opts: KcpOptions): ResolvedKcpOptions {
  if (opts === null || typeof opts !== 'object') invalid('options object required');
  if (!isU32(opts.conv)) invalid('conv must be a u32');
  if (typeof opts.output !== 'function') invalid('output must be a function');
  const t = tuningForMode(opts.mode);
  if (opts.nodelay !== undefined) {
    t.nodelay = opts.nodelay === true;
    t.minRto = t.nodelay ? KCP_RTO_NODELAY_MIN : KCP_RTO_MIN;
  }
  if (opts.interval !== undefined) t.interval = clampInterval(opts.interval);
  if (opts.resend !== undefined) t.resend = intIn(opts.resend, 0, 0xffff, 'resend');
  if (opts.noCongestion !== undefined) t.noCongestion = opts.noCongestion === true;
  if (opts.minRto !== undefined) t.minRto = intIn(opts.minRto, 1, KCP_RTO_MAX, 'minRto');
  return {
    ...t,
    conv: opts.conv,
    mtu: checkMtu(opts.mtu ?? KCP_DEFAULT_MTU),
    sndWnd: checkWindow(opts.sndwnd ?? KCP_DEFAULT_SNDWND, 'sndwnd'),
    rcvWnd: checkWindow(opts.rcvwnd ?? KCP_DEFAULT_RCVWND, 'rcvwnd'),
    stream: opts.stream === true,
    deadLink: intIn(opts.deadLink ?? KCP_DEFAULT_DEAD_LINK, 1, 0xffff, 'deadLink'),
    initialSn: opts.initialSn === undefined ? 0 : isU32(opts.initialSn) ? opts.initialSn : invalid('initialSn must be a u32'),
    fastLimit: intIn(opts.fastLimit ?? KCP_DEFAULT_FAST_LIMIT, 0, 0xffff, 'fastLimit'),
    maxBurst: intIn(opts.maxBurst ?? 0, 0, 0xffff, 'maxBurst'),
  };
}

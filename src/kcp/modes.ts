/**
 * Named presets for the four ikcp_nodelay knobs. Numbers follow the shared
 * transport facts: ikcp's "normal" and "turbo", kcptun's fast/fast2/fast3.
 */
export type KcpMode = 'normal' | 'fast' | 'fast2' | 'fast3' | 'turbo' | 'default';

export interface KcpModePreset {
  readonly nodelay: boolean;
  /** Milliseconds; also the floor of the RTO's variance term. */
  readonly interval: number;
  /** Fast resend after this many later ACKs; 0 disables fast resend. */
  readonly resend: number;
  /** True turns the congestion window off (only the send/remote windows limit). */
  readonly noCongestion: boolean;
}

export const KCP_MODES: Readonly<Record<KcpMode, KcpModePreset>> = Object.freeze({
  default: Object.freeze({ nodelay: false, interval: 40, resend: 0, noCongestion: false }),
  normal: Object.freeze({ nodelay: false, interval: 40, resend: 0, noCongestion: false }),
  fast: Object.freeze({ nodelay: false, interval: 30, resend: 2, noCongestion: true }),
  fast2: Object.freeze({ nodelay: true, interval: 20, resend: 2, noCongestion: true }),
  fast3: Object.freeze({ nodelay: true, interval: 10, resend: 2, noCongestion: true }),
  turbo: Object.freeze({ nodelay: true, interval: 10, resend: 2, noCongestion: true }),
});

export function isKcpMode(x: unknown): x is KcpMode {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(KCP_MODES, x);
}

import type { TunnelSessionOptions } from '../src/session/index.js';

/** Session tuning a peer may override (tests shorten timeouts; benchmarks change windows). */
export type SessionTuning = Partial<Omit<TunnelSessionOptions, 'keys' | 'role' | 'scheduler'>>;

/**
 * stcp sessions never leave the relay, which is a TCP link: no path MTU to
 * respect, and each packet costs a fixed amount of CPU (a cipher object, a
 * KCP segment), so big packets carry many times more bytes per CPU second.
 * 128 segments of 32 KiB keep 4 MiB in flight, under the relay link's queue bound.
 */
export const RELAY_ONLY_TUNING: SessionTuning = {
  packetMtu: 32 * 1024,
  kcp: { sndwnd: 128, rcvwnd: 128 },
};

/**
 * xtcp sessions start on the relay and move to UDP: KCP's segment size is
 * fixed for a session, so they use UDP-sized packets on the relay too.
 */
export function sessionTuning(mode: 'stcp' | 'xtcp', overrides: SessionTuning | undefined): SessionTuning {
  const base = mode === 'stcp' ? RELAY_ONLY_TUNING : {};
  return { ...base, ...overrides, kcp: { ...base.kcp, ...overrides?.kcp } };
}

import type { TunnelSessionOptions } from '../src/session/index.js';

/** Session tuning a peer may override (tests shorten timeouts; benchmarks change windows). */
export type SessionTuning = Partial<Omit<TunnelSessionOptions, 'keys' | 'role' | 'scheduler'>>;

/**
 * Every timer and bound of UDP flows, in one table (like wireguard-go's
 * timers.go): what a flow may cost and when it ends.
 */
export const UDP_FLOW_TIMERS = {
  /** A flow with no datagram either way for this long is closed (NATs forget UDP mappings after 30-120 s). */
  idleMs: 60_000,
  /** The shortest idle time a user may set: a flow must survive one round trip. */
  minIdleMs: 100,
  /** The longest idle time a user may set (a day): flows must end some time. */
  maxIdleMs: 86_400_000,
  /** Warnings about drops (too big, cap, congestion): this many per window, then one summary line. */
  warnBurst: 5,
  warnWindowMs: 10_000,
} as const;

export const UDP_FLOW_LIMITS = {
  /** Flows per session by default; each one is a socket on the provider. */
  maxFlows: 1024,
  /** The most a user may ask for (the provider's file descriptors are finite). */
  maxFlowsCeiling: 65_536,
  /** Datagrams a provider flow holds while its socket opens; more are dropped. */
  pendingWhileOpening: 16,
} as const;

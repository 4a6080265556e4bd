/**
 * Every default of the peers' options, once. The CLI, the README and both
 * roles read the same values: xtcp is the documented mode (punch a direct
 * path, relay meanwhile and as fallback), whichever side is asked.
 */
export const PEER_DEFAULTS = {
  /** xtcp: punch a direct path, relay meanwhile (and as fallback); stcp: relay only. */
  mode: 'xtcp',
  /** xtcp only: 'fallback' carries traffic over the relay until (and unless) the direct path works; 'never' uses no relay. */
  relay: 'fallback',
  /** Visitor: TCP connections that may wait for a session at once, and for how long. */
  maxWaiting: 256,
  waitTimeoutMs: 15_000,
  /** Provider: handshakes in progress at once (a flood must not grow memory), and sessions. */
  maxPendingHandshakes: 64,
  maxSessions: 1024,
} as const;

export type PeerMode = 'xtcp' | 'stcp';
export type RelayPolicy = 'fallback' | 'never';

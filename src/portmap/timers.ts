/**
 * Every time the port mapper waits, in one table (like wireguard-go's
 * timers.go), so the policy can be read and tuned in one place.
 */
export const PORTMAP_TIMERS = {
  /** How long each protocol's probe waits for an answer (tailscale: 250 ms). All three probe at once. */
  probeMs: 250,
  /**
   * The UPnP probe's longest wait; it ends at the gateway's first usable SSDP
   * answer. Longer than the others because MX: 1 lets a device delay its
   * multicast answers up to 1 s, and miniupnpd answered only after 150-300 ms
   * on a loaded lab machine (tailscale waits 250 + 50 ms).
   */
  upnpProbeMs: 1000,
  /**
   * Once NAT-PMP or PCP answered a probe successfully, UPnP gets only this much
   * longer (tailscale: 50 ms): the mapping would use PCP/NAT-PMP anyway, and a
   * first mapping must fit in a session's grace (300 ms).
   */
  upnpGraceAfterPmpMs: 50,
  /** First retransmission of a NAT-PMP or PCP request (RFC 6886: 250 ms, doubling). */
  requestRtoMs: 250,
  /** Sends per NAT-PMP/PCP request: 250 + 500 + 1000 + 2000 ms, well short of RFC 6886's 64 s. */
  requestMaxSends: 4,
  /** A NAT-PMP/PCP request gives up after this long. */
  requestTimeoutMs: 4000,
  /** Each UPnP HTTP exchange (description GET, SOAP POST). */
  httpTimeoutMs: 2000,
  /** Lifetime asked for, in seconds (tailscale: 2 h). */
  lifetimeSeconds: 7200,
  /** Refresh when this fraction of the granted lifetime has passed. */
  refreshFraction: 0.5,
  /** Never refresh more often than this, whatever the router grants (a 0 s lifetime must not spin). */
  minRefreshIntervalMs: 1000,
  /** A refresh that failed is tried again after this long, until the mapping would have expired. */
  refreshRetryMs: 5000,
  /** After nothing answered or every protocol refused: probe again after this long. */
  retryAfterFailureMs: 60_000,
  /** After the external address turned out unusable (another NAT above): look again this much later. */
  retryAfterUnusableAddressMs: 10 * 60_000,
  /** close() waits at most this long for the router to confirm the deletion. */
  releaseTimeoutMs: 1000,
} as const;

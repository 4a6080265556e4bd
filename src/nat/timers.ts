/**
 * The waits of `burrow nat`'s IPv6 and port-mapping sections, in one table.
 * Both run next to the IPv4 tests, so each costs at most its own bound.
 */
export const NAT_CHECK_TIMERS = {
  /** The IPv6 STUN request gives up after this long (or --timeout, if shorter). */
  ipv6ProbeMs: 1000,
  /**
   * The port-mapping verdict must come within this long: the probe (up to
   * 1 s for UPnP's SSDP search) plus one map request that retransmits
   * (NAT-PMP/PCP: 4 s) or a few UPnP HTTP exchanges.
   */
  portMapVerdictMs: 6000,
  /**
   * The test mapping's lifetime, in seconds. Short, so a router that never
   * confirms the deletion drops it soon on its own.
   */
  portMapLifetimeSeconds: 120,
} as const;

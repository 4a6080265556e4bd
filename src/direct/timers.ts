/**
 * Every timer of the direct path, in one table: its duration and what arms it
 * (wireguard-go's timers.go is the model). The code reads its values from
 * here; change a value here and nowhere else.
 *
 * Attempt lifecycle (AttemptMachine):
 *  - startDelay     start() of the first attempt, when DirectOptions.startDelayMs > 0
 *                   (default 0: the first attempt starts at once).
 *  - retry          a punch failed, or the offer could not be sent (control channel
 *                   down): re-punch with fresh sockets after RETRY_SCHEDULE_MS[failures - 1].
 *  - hopelessRetry  a punch failed because the two NATs cannot be punched at all
 *                   (planPunch said no): try again only after this long, the
 *                   networks may have changed by then.
 *  - relayLostGiveUp the relay link closed while there was no direct path, or the
 *                   direct path died after the relay had closed: end the
 *                   session if no path is found by then.
 *
 * One punch (PunchSession, armed by the rendezvous's 'punch' message):
 *  - punchTimeout   the attempt fails when nothing locked by then (birthday
 *                   probing gets birthdayExtra more).
 *  - probeLead      primes go out at the start, probes this much later.
 *  - lanGrace       an internet candidate answered first: wait this long for a LAN one.
 *  - birthdayHardStart / birthdayEasyStart: when birthday sockets / random-port probes begin.
 *
 * A locked path (PathMonitor, armed by every send and by silence):
 *  - keepalive      nothing sent or heard for this long: send a keepalive.
 *                   Starts at keepaliveInitial, halved toward keepaliveFloor when
 *                   idle paths die (see keepalive-policy.ts).
 *  - suspectAfter   a send unanswered for this long: the path is suspect.
 *  - checkInterval  checks this far apart while suspect.
 *  - deadAfter      suspect for this long with no answer: the path is dead.
 *                   A path that stops answering is thus declared dead
 *                   suspectAfter + deadAfter after the first unanswered send.
 *
 * Address discovery (SessionStun, armed at the start of each attempt):
 *  - stunTimeout / stunRto: per STUN request; hop probes get one send each.
 *  - stunSettleMax  after the main answers, wait min(this, 20 ms + rtt) for
 *                   the hop probes and extra servers that can still answer.
 *  - portmapGrace   the router port mapper starts with discovery; the offer
 *                   waits for its verdict at most this long after the
 *                   attempt's socket opened (no router answering costs a
 *                   session at most this much; a mapping granted later is
 *                   offered on the next attempt). The relay carries the
 *                   session meanwhile.
 * familyDiscoveryGraceMs  once one session socket's discovery has found
 *                   UDP working, the other family's gets at most this much
 *                   longer (or until the port-map grace ends, if later): IPv4
 *                   UDP blocked, or an IPv6 address without a working IPv6
 *                   route, must not hold every offer for a whole STUN
 *                   timeout. A family that found no UDP waits for the other
 *                   in full.
 */
export const DIRECT_TIMERS = {
  startDelayMs: 0,
  /** Back-off between attempts: after the 1st failure 500 ms, after the 6th and later 5 min. */
  retryScheduleMs: [500, 2000, 10_000, 30_000, 60_000, 300_000] as const,
  hopelessRetryMs: 600_000,
  relayLostGiveUpMs: 20_000,

  punchTimeoutMs: 3000,
  birthdayExtraMs: 3000,
  probeLeadMs: 100,
  lanGraceMs: 150,
  birthdayHardStartMs: 500,
  birthdayEasyStartMs: 600,

  keepaliveInitialMs: 15_000,
  keepaliveFloorMs: 1000,
  suspectAfterMs: 2000,
  checkIntervalMs: 300,
  deadAfterMs: 2500,

  stunTimeoutMs: 1500,
  stunRtoMs: 250,
  stunSettleMaxMs: 200,

  portmapGraceMs: 300,
  familyDiscoveryGraceMs: 100,
} as const;

/** How long a path that stops answering lives on after the first unanswered send. */
export const PATH_DEATH_MS = DIRECT_TIMERS.suspectAfterMs + DIRECT_TIMERS.deadAfterMs;

/** The back-off before the next attempt after `failures` failed ones (failures ≥ 0). */
export function retryDelayMs(failures: number, hopeless: boolean): number {
  if (hopeless) return DIRECT_TIMERS.hopelessRetryMs;
  const s = DIRECT_TIMERS.retryScheduleMs;
  // failures = 0 (an offer that could not be sent before any failure) waits the first step.
  return s[Math.max(0, Math.min(failures, s.length) - 1)] ?? s[0];
}

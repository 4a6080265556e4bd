/**
 * Largest port step between a NAT's consecutive new mappings that still
 * counts as "sequential", i.e. predictable. The session's STUN check
 * (peer/session-stun.ts) uses it to decide how to punch: for a sequential NAT
 * the punch probes the next 8 ports at that step from the last mapping seen
 * (peer/direct-link.ts). Past 16 those guesses spread over more than a hundred
 * ports, other hosts' new mappings land in between, and the plan treats the
 * NAT as random instead (birthday probing, or the relay). `burrow nat`
 * (analyse.ts) used to allow 64, and so called NATs predictable that sessions
 * punch as random; both now use this one bound, so the report tells what the
 * punch will actually do.
 */
export const MAX_SEQUENTIAL_PORT_STEP = 16;

/** A step between consecutive mappings that a punch can follow. */
export function isSequentialStep(step: number): boolean {
  return step !== 0 && Math.abs(step) <= MAX_SEQUENTIAL_PORT_STEP;
}

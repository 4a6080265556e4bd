export { derivePunchKeys, type PunchKeys } from './punch-keys.js';
export { ProbeType, PROBE_LENGTH, decodeProbe, encodeProbe, type ProbePacket } from './probe-packet.js';
export { ProbeCodec, type RandomBytes } from './probe-codec.js';
export { PunchTimeline, type TimelineEntry } from './timeline.js';
export { normaliseCandidates, describePath, isLanCandidate, sharesSubnet, CANDIDATE_PRIORITY, type Candidate, type CandidateKind, type PathLabel } from './candidate.js';
export { choosePath, otherFamilyWaitMs, IPV6_RTT_FACTOR, type PathChoice } from './path-choice.js';
export { planPunch, type SessionNatInfo, type PunchStrategy, type PlanOptions } from './nat-plan.js';
export {
  PunchSession,
  type PunchSessionOptions,
  type PunchState,
  type LockedEndpoint,
  type Transmit,
  type BirthdayRole,
  type FamilySockets,
} from './punch-session.js';
export { sendTransmits, NORMAL_TTL } from './transmit.js';
export { PunchRunner } from './punch-runner.js';

/** The NAT matrix on the in-process lane: whole sessions on a fake clock, no root. See ../../matrix/README.md. */
export { runVirtualMatrix, VIRTUAL_PROFILES, VIRTUAL_DEFAULT_SIZE, VIRTUAL_DEFAULT_SEED } from './run.js';
export type { VirtualMatrixOptions } from './run.js';
export { runVirtualSession, LANE_SESSION_TUNING } from './session.js';
export type { VirtualSessionOptions, VirtualSessionResult } from './session.js';
export { VirtualSessionLab } from '../lab.js';
export type { VirtualLabOptions, PeerRole } from '../lab.js';

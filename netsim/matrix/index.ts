/** The NAT matrix: expected outcomes, the kernel-lane relay runner, and its table. See README.md. */
export {
  EXPECTED,
  GRID_ORDER,
  expectedFor,
  pairKey,
  rfc4787Direct,
  gridCoversProfiles,
  labExpectedDirect,
  xtcpExpectation,
  xtcpAsExpected,
} from './expected.js';
export type { ExpectedCell, RelayOutcome, DirectExpectation, XtcpExpectation } from './expected.js';
export {
  runKernelMatrix,
  allPairs,
  REPRESENTATIVE_PAIRS,
  DEFAULT_SIZE,
  MIB,
  BURROW_ENTRY,
  TRAFFIC_ENTRY,
} from './kernel-matrix.js';
export type { MatrixRun, MatrixOptions, PairResult, PairOutcome, SiteInfo } from './kernel-matrix.js';
export { formatTable, formatSummary, contradictions, cellText, SHORT } from './format.js';
export { seededBytes, sha256hex, TRAILER_BYTES } from './traffic.js';
export type { ClientReport } from './traffic.js';
export {
  runVirtualMatrix,
  allVirtualPairs,
  virtualExpectedRelay,
  virtualExpected,
  VIRTUAL_PROFILES,
  VIRTUAL_DEFAULT_SIZE,
  VIRTUAL_DEFAULT_SEED,
} from './virtual-matrix.js';
export type { VirtualMatrixRun, VirtualMatrixOptions, VirtualPairResult, VirtualMatrixMode } from './virtual-matrix.js';
export { formatVirtualTable, formatVirtualSummary, virtualContradictions, virtualCellText, timeToDirectByClass, quantile } from './virtual-format.js';
export { runVirtualSession, LANE_SESSION_TUNING } from './virtual-session.js';
export type { VirtualSessionOptions, VirtualSessionResult } from './virtual-session.js';
export { VirtualSessionLab } from './virtual-lab.js';
export type { VirtualLabOptions, PeerRole } from './virtual-lab.js';

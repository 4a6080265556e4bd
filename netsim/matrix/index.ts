/**
 * The NAT matrix, lane-agnostic: the expected outcome of every pair, the
 * result types, the formatter. The runners live with their lanes:
 * ../kernel/matrix/ (real NATs, root) and ../virtual/matrix/ (in process).
 * See README.md.
 */
export {
  EXPECTED,
  GRID_ORDER,
  expectedFor,
  pairKey,
  rfc4787Direct,
  gridCoversProfiles,
  labExpectedDirect,
  labExpectedRelay,
  labExpectedVia,
  xtcpExpectation,
  xtcpAsExpected,
  cellExpectation,
  cellAsExpected,
  directVia,
  viaAsExpected,
} from './expected.js';
export type {
  ExpectedCell,
  RelayOutcome,
  DirectExpectation,
  DirectVia,
  MeasuredVia,
  MatrixProfileName,
  XtcpExpectation,
  CellExpectation,
  MatrixMode,
} from './expected.js';
export { allPairs, inOrder } from './result.js';
export type {
  MatrixRun,
  KernelMatrixRun,
  VirtualMatrixRun,
  PairResult,
  PairMeasure,
  PairOutcome,
  KernelPairResult,
  VirtualPairResult,
  SiteInfo,
} from './result.js';
export { formatTable, formatSummary, contradictions, cellText, quantile, timeToDirectByClass, SHORT } from './format.js';
export type { DirectClassTimes } from './format.js';
export { seededBytes, sha256hex, payload, startTarget, runClient, TRAILER_BYTES } from './duplex-check.js';
export type { Payload, ClientResult, ClientRun, TargetHandle } from './duplex-check.js';

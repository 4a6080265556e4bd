/** The NAT matrix on the kernel lane: real burrow processes behind real NATs (root). See ../../matrix/README.md. */
export { runKernelMatrix, REPRESENTATIVE_PAIRS, DEFAULT_SIZE, MIB, BURROW_ENTRY, TRAFFIC_ENTRY } from './run.js';
export type { MatrixOptions } from './run.js';
export type { ClientReport } from './traffic.js';

export { FLOW_HEADER_BYTES, MAX_FLOW_ID, decodeFlowDatagram, encodeFlowDatagram } from './flow-frame.js';
export { FlowTable, type Flow, type FlowTableOptions, type OpenResult } from './flow-table.js';
export { UDP_FLOW_LIMITS, UDP_FLOW_TIMERS } from './flow-timers.js';
export { UDP_DROP_REASONS, UdpCounters, zeroCounts, type UdpCounts, type UdpDropReason, type UdpDrops } from './udp-counters.js';

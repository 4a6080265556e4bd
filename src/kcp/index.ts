export { KcpConnection, KCP_IDLE_CHECK, KCP_MAX_FRAGMENTS, type KcpStateSnapshot } from './kcp-connection.js';
export {
  KCP_DEFAULT_MTU,
  KCP_DEFAULT_RCVWND,
  KCP_DEFAULT_SNDWND,
  KCP_RTO_MAX,
  type KcpOptions,
} from './options.js';
export { KCP_MODES, isKcpMode, type KcpMode, type KcpModePreset } from './modes.js';
export { type KcpStats } from './stats.js';
export {
  KCP_CMD_ACK,
  KCP_CMD_PUSH,
  KCP_CMD_WASK,
  KCP_CMD_WINS,
  KCP_OVERHEAD,
  decodeSegments,
  encodeSegment,
  encodeSegments,
  encodedSize,
  isKcpCommand,
  type KcpCommand,
  type KcpSegment,
} from './segment.js';

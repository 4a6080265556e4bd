export { SecureKcp, type SecureKcpOptions } from './secure-kcp.js';
export { TunnelSession, type TunnelSessionOptions, type TunnelSessionStats, type DatagramSendResult } from './tunnel-session.js';
export { MAX_UDP_PAYLOAD } from './datagram-channel.js';

export { SecureKcp, type SecureKcpOptions } from './secure-kcp.js';
export { TunnelSession, type TunnelSessionOptions, type TunnelSessionStats } from './tunnel-session.js';

export { SecureKcp, type SecureKcpOptions, type SessionKeys } from './secure-kcp.js';
export { TunnelSession, type TunnelSessionOptions, type TunnelSessionStats, type SessionRole } from './tunnel-session.js';

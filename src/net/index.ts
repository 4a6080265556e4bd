export type { UdpEndpoint, UdpMessageHandler, UdpSocket } from './udp-socket.js';
export { bindUdpSocket, DEFAULT_SOCKET_BUFFER_SIZE, type BindUdpSocketOptions } from './bind.js';
export { NodeUdpSocket, type UdpSocketStats } from './node-udp-socket.js';
export { formatEndpoint, normaliseAddress, normaliseEndpoint, sameAddress, sameEndpoint } from './endpoint.js';
export { bytesToIp, ipToBytes } from './ip.js';
export type { StreamSocket, StreamServer, StreamTransport, StreamAddress, StreamConnectOptions, StreamServerOptions } from './stream-transport.js';
export { nodeStreamTransport } from './node-stream-transport.js';
export { nodeUdpSocketFactory, type UdpSocketFactory } from './udp-factory.js';
export { resolveRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

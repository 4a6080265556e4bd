export type { UdpEndpoint, UdpMessageHandler, UdpSocket } from './udp-socket.js';
export { bindUdpSocket, DEFAULT_SOCKET_BUFFER_SIZE, type BindUdpSocketOptions } from './bind.js';
export { NodeUdpSocket, type UdpSocketStats } from './node-udp-socket.js';
export { formatEndpoint } from './endpoint.js';

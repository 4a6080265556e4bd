import type { UdpEndpoint } from './udp-socket.js';

/** "203.0.113.7:41641" or "[2001:db8::1]:41641", for logs and error messages. */
export function formatEndpoint(endpoint: UdpEndpoint): string {
  return endpoint.address.includes(':')
    ? `[${endpoint.address}]:${endpoint.port}`
    : `${endpoint.address}:${endpoint.port}`;
}

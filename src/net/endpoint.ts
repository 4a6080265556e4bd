import { bytesToIp, ipToBytes } from './ip.js';
import type { UdpEndpoint } from './udp-socket.js';

/** "203.0.113.7:41641" or "[2001:db8::1]:41641", for logs and error messages. */
export function formatEndpoint(endpoint: UdpEndpoint): string {
  return endpoint.address.includes(':')
    ? `[${endpoint.address}]:${endpoint.port}`
    : `${endpoint.address}:${endpoint.port}`;
}

/**
 * One text per host: an IPv4-mapped IPv6 address becomes the IPv4 address it
 * stands for (a dual-stack socket reports `::ffff:192.0.2.1` for a peer that
 * others know as `192.0.2.1`), IPv6 takes its RFC 5952 form (lower case,
 * longest zero run as `::`). Anything that is not an IP literal is returned
 * as it is.
 */
export function normaliseAddress(address: string): string {
  const bytes = ipToBytes(address);
  return bytes === null ? address : bytesToIp(bytes);
}

export function normaliseEndpoint(endpoint: UdpEndpoint): UdpEndpoint {
  return { address: normaliseAddress(endpoint.address), port: endpoint.port };
}

/** Same host (after normaliseAddress) and same port: the one endpoint comparison. */
export function sameEndpoint(a: UdpEndpoint, b: UdpEndpoint): boolean {
  return a.port === b.port && sameAddress(a.address, b.address);
}

export function sameAddress(a: string, b: string): boolean {
  return a === b || normaliseAddress(a) === normaliseAddress(b);
}

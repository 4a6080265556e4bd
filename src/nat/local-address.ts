import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { UdpEndpoint } from '../net/udp-socket.js';

/**
 * The local IP address the OS would send from to reach `remote` (a connected
 * UDP socket picks it by routing; nothing is sent). Discovery binds to it so
 * "no NAT" can be recognised: a wildcard-bound socket does not know its
 * own address. Null when there is no route.
 */
export function localAddressTowards(remote: UdpEndpoint): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv6(remote.address) ? 'udp6' : 'udp4');
    const done = (v: string | null) => {
      try {
        s.close();
      } catch {
        // already closed
      }
      resolve(v);
    };
    s.once('error', () => done(null));
    try {
      s.connect(remote.port, remote.address, () => done(sourceOrNull(s.address().address)));
    } catch {
      done(null);
    }
  });
}

/**
 * A connected socket's local address, or null when the OS found none: a host
 * without an address of that family (IPv6 disabled, an IPv6-only host asked
 * about IPv4) may still "connect" and report the unspecified address.
 */
export function sourceOrNull(address: string): string | null {
  return address === '0.0.0.0' || address === '::' ? null : address;
}

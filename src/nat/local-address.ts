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

/**
 * A host has no route towards `remote` when the OS finds no source address
 * for it (localAddressTowards is null): nothing can be sent there, which is
 * not the same as "UDP is blocked". `burrow nat` and a session's address
 * discovery name it in the same words.
 */
export function noRoute(remote: UdpEndpoint): string {
  return `no ${familyName(remote)} route`;
}

/** Why there is no route, in a few words (see noRoute). */
export function noRouteCause(remote: UdpEndpoint): string {
  return `this host has no ${familyName(remote)} address or route`;
}

function familyName(remote: UdpEndpoint): 'IPv4' | 'IPv6' {
  return isIPv6(remote.address) ? 'IPv6' : 'IPv4';
}

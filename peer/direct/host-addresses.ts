import { networkInterfaces } from 'node:os';
import { addressFamily } from '../../src/net/ip.js';
import type { UdpSocket } from '../../src/net/udp-socket.js';
import { flattenInterfaces, selectIpv6Addresses } from '../../src/nat/ipv6-addresses.js';

/** At most this many IPv4 interface addresses are offered. */
const MAX_HOST_ADDRESSES = 8;

/**
 * This machine's addresses that a peer might reach: the non-internal IPv4
 * interface addresses, then the IPv6 ones selectIpv6Addresses keeps (global
 * unicast; unique-local only without a global one; never link-local; a
 * couple per /64).
 */
export function osHostAddresses(): string[] {
  const rows = flattenInterfaces(networkInterfaces());
  const v4 = rows.filter((r) => (r.family === 'IPv4' || r.family === 4) && !r.internal).map((r) => r.address);
  return [...v4.slice(0, MAX_HOST_ADDRESSES), ...selectIpv6Addresses(rows).usable.map((a) => a.address)];
}

/** The host candidates of `socket`: its own address when bound to one, else the addresses of its family from `all`. */
export function hostAddressesOf(socket: UdpSocket, all: readonly string[]): string[] {
  const bound = socket.localEndpoint().address;
  if (bound !== '0.0.0.0' && bound !== '::') return [bound];
  const family = bound === '::' ? 6 : 4;
  return all.filter((a) => addressFamily(a) === family);
}

/**
 * The address a session's IPv6 socket binds to (bound, so replies and
 * probes leave from the very address offered), or null without one. The
 * first that selectIpv6Addresses keeps: global before unique-local.
 */
export function ipv6SessionAddress(all: readonly string[]): string | null {
  const rows = all.filter((a) => addressFamily(a) === 6).map((address) => ({ interface: '', address, family: 'IPv6', internal: false }));
  return selectIpv6Addresses(rows).usable[0]?.address ?? null;
}

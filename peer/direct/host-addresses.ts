import { networkInterfaces } from 'node:os';
import type { UdpSocket } from '../../src/net/udp-socket.js';

/** At most this many interface addresses are offered. */
const MAX_HOST_ADDRESSES = 8;

/**
 * This machine's addresses to offer as host candidates: the socket's own
 * address when it is bound to one, else the OS's non-internal IPv4
 * interfaces.
 */
export function hostAddressesOf(socket: UdpSocket): string[] {
  const bound = socket.localEndpoint().address;
  if (bound !== '0.0.0.0' && bound !== '::') return [bound];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) out.push(i.address);
  }
  return out.slice(0, MAX_HOST_ADDRESSES);
}

import type { UdpSocket } from '../net/udp-socket.js';
import type { Transmit } from './punch-session.js';

/** The TTL sockets go back to after a low-TTL send (Linux's default). */
export const NORMAL_TTL = 64;

/**
 * Sends what a punch core produced. A low-TTL datagram gets its TTL set just
 * for that send (dgram's send is synchronous for IP literals, see
 * NodeUdpSocket), then the socket goes back to the normal TTL.
 */
export function sendTransmits(sockets: readonly (UdpSocket | undefined)[], out: readonly Transmit[]): void {
  for (const t of out) {
    const socket = sockets[t.socket];
    if (socket === undefined || socket.closed) continue;
    if (t.ttl !== undefined) {
      socket.setTtl(t.ttl);
      socket.send(t.data, t.to);
      socket.setTtl(NORMAL_TTL);
    } else {
      socket.send(t.data, t.to);
    }
  }
}

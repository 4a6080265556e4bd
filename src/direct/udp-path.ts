import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import type { DatagramPath } from '../path/datagram-path.js';

/**
 * A direct path: the session's UDP socket aimed at one remote endpoint.
 * Closing the path does not close the socket; the session owns the socket,
 * because the same socket (and its NAT mapping) serves every direct path.
 */
export class UdpPath implements DatagramPath {
  readonly kind = 'direct' as const;
  readonly label: string;
  private open = true;

  constructor(
    private readonly socket: UdpSocket,
    readonly remote: UdpEndpoint,
    readonly mtu = 1400,
  ) {
    this.label = `udp ${remote.address}:${remote.port}`;
  }

  send(packet: Uint8Array): void {
    if (this.open) this.socket.send(packet, this.remote);
  }

  close(): void {
    this.open = false;
  }
}

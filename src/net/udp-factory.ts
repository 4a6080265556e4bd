import { bindUdpSocket } from './bind.js';
import type { UdpSocket } from './udp-socket.js';

/**
 * Opens a UDP socket for a peer (the direct path binds one per session).
 * Production binds a node:dgram socket; netsim's in-process lane binds a
 * virtual one on the peer's virtual host.
 */
export type UdpSocketFactory = (bindAddress?: string) => Promise<UdpSocket> | UdpSocket;

export const nodeUdpSocketFactory: UdpSocketFactory = (bindAddress) =>
  bindUdpSocket(bindAddress === undefined ? {} : { address: bindAddress });

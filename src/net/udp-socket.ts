import { BurrowError } from '../errors.js';

/**
 * The UDP socket a peer session uses. The kernel implementation wraps
 * node:dgram; netsim's in-process network implements the same interface, so
 * whole sessions run on a fake clock without the kernel.
 */
export interface UdpEndpoint {
  /** IPv4 dotted quad or IPv6 text form. */
  readonly address: string;
  readonly port: number;
}

export type UdpMessageHandler = (data: Buffer, from: UdpEndpoint) => void;

export interface UdpSocket {
  /**
   * Sends one datagram. Fire and forget, like UDP: a send failure (no route,
   * closed socket) is reported through `onError`, never thrown, because the
   * callers are protocol loops that must carry on.
   * `data` must not be modified afterwards: when the kernel buffer is full,
   * node:dgram queues a reference to it rather than a copy.
   */
  send(data: Uint8Array, to: UdpEndpoint): void;
  /** Replaces the handler for incoming datagrams. */
  onMessage(handler: UdpMessageHandler): void;
  /** Replaces the handler for asynchronous socket errors. */
  onError(handler: (err: Error) => void): void;
  /** The bound local address and port. */
  localEndpoint(): UdpEndpoint;
  /** Sets the IP TTL of datagrams sent from now on (low-TTL NAT priming). */
  setTtl(ttl: number): void;
  /** Idempotent. No handler is called after close. */
  close(): void;
  readonly closed: boolean;
}

/** The one TTL check every UdpSocket implementation applies: an integer in 1..255. */
export function assertValidTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `TTL must be an integer in 1..255, got ${ttl}`);
  }
}

/**
 * A path carries a session's sealed packets to the peer: a UDP socket aimed at
 * an address (direct) or a relay link through the rendezvous. Paths know
 * nothing about keys or KCP; the session seals, then hands bytes to whichever
 * path is current, and accepts authenticated packets from any of its paths.
 * That is what lets a live session move from relay to direct.
 */
export type PathKind = 'direct' | 'relay' | 'memory';

export interface DatagramPath {
  readonly kind: PathKind;
  /** Human-readable, for logs: "udp 203.0.113.7:41641", "relay via rendezvous". */
  readonly label: string;
  /**
   * Sends one sealed packet. Best effort, like UDP: KCP retransmits what is
   * lost. `packet` may be reused by the caller once `send` returns.
   */
  send(packet: Uint8Array): void;
  /** Largest packet this path carries without fragmentation. */
  readonly mtu: number;
  close(): void;
}

/** Where a path delivers what it receives. */
export type PathReceiver = (packet: Buffer, path: DatagramPath) => void;

import { DEFAULT_REPLAY_WINDOW, PacketOpener, PacketSealer, SEALED_OVERHEAD, type SessionKeys } from '../crypto/index.js';
import { deriveDatagramKeys } from '../crypto/derived-keys.js';
import { PacketKind } from '../wire/packet-kind.js';

/** What became of one datagram handed to TunnelSession.sendDatagram. */
export type DatagramSendResult =
  /** Handed to the current path (which may still lose it: datagrams are never retransmitted). */
  | 'sent'
  /** Larger than the current path's datagramLimit: dropped, never split. */
  | 'too-big'
  /** The session has no path yet. */
  | 'no-path'
  /** The relay is back-pressured: dropped rather than queued. */
  | 'congested'
  /** The session is closed. */
  | 'closed';

/** Largest payload of one IPv4 UDP datagram: the most a UDP service can hand us. */
export const MAX_UDP_PAYLOAD = 65_507;

export interface DatagramStats {
  /** Authentic datagrams received (either path). */
  datagramsIn: number;
  /** Datagrams handed to a path. */
  datagramsOut: number;
  /** Received datagrams that failed authentication or were replayed. */
  datagramsDropped: number;
}

/**
 * The direct-path side of a session's unreliable datagrams: each one is a
 * packet of its own (PacketKind.Datagram), sealed with keys of its own so
 * its counters never meet KCP's, opened through its own replay window. No
 * retransmission and no ordering: a lost datagram is lost, as UDP's would
 * be, and none waits behind a stream. Sans-I/O: bytes in, bytes out.
 */
export class DatagramChannel {
  private readonly sealer: PacketSealer;
  private readonly opener: PacketOpener;
  readonly stats: DatagramStats = { datagramsIn: 0, datagramsOut: 0, datagramsDropped: 0 };

  constructor(keys: SessionKeys) {
    const own = deriveDatagramKeys(keys);
    this.sealer = new PacketSealer(own.sendKey, { aead: keys.aead, kind: PacketKind.Datagram });
    this.opener = new PacketOpener(own.recvKey, { aead: keys.aead, kind: PacketKind.Datagram, replayWindow: DEFAULT_REPLAY_WINDOW });
  }

  /** Largest payload that fits one packet of `packetMtu` bytes. */
  static limitFor(packetMtu: number): number {
    return Math.max(0, Math.min(MAX_UDP_PAYLOAD, packetMtu - SEALED_OVERHEAD));
  }

  /** The sealed packet for `payload` (the caller checked its size). */
  seal(payload: Uint8Array): Buffer {
    this.stats.datagramsOut++;
    return this.sealer.seal(payload);
  }

  /** The payload of an authentic datagram packet (counted), or null (counted as dropped). */
  open(packet: Uint8Array): Buffer | null {
    const plain = this.opener.open(packet);
    if (plain === null) this.stats.datagramsDropped++;
    else this.stats.datagramsIn++;
    return plain;
  }
}

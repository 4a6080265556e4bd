import { KcpConnection, type KcpOptions, type KcpStats } from '../kcp/index.js';
import { createKcpStats } from '../kcp/stats.js';
import { diff32 } from '../kcp/seq.js';
import { DEFAULT_REPLAY_WINDOW, PacketOpener, PacketSealer, SEALED_OVERHEAD, type SessionKeys } from '../crypto/index.js';

export interface SecureKcpOptions {
  keys: SessionKeys;
  /** Conversation id of the first KCP epoch; each later epoch counts up from it. Both ends must agree. */
  conv: number;
  /** Largest sealed packet until a path says otherwise; KCP's MTU is this minus the seal overhead. */
  packetMtu: number;
  kcp?: Omit<KcpOptions, 'conv' | 'output' | 'mtu'>;
  /** Receives every sealed packet ready for the wire. */
  onPacket: (sealed: Buffer) => void;
  /** Default DEFAULT_REPLAY_WINDOW. */
  replayWindow?: number;
}

export interface SecureKcpStats {
  packetsIn: number;
  packetsOut: number;
  /** Authenticated packets KCP refused (an older epoch, malformed inside the seal). */
  kcpRejected: number;
  /** KCP instances started (by us or adopted from the peer). */
  epochs: number;
}

/** What became of one received packet. */
export type KcpReceipt =
  /** Authentic, and the current KCP took it. */
  | 'accepted'
  /** Not authentic, replayed, or KCP refused it: dropped, counted, nothing changed. */
  | 'rejected'
  /**
   * Authentic and from a newer epoch the peer started: a fresh KCP took it
   * and the old one is gone with whatever it had in flight, which the layer
   * above must send again.
   */
  | 'new-epoch';

/**
 * The datagram side of a tunnel session: KCP whose every datagram is sealed
 * on the way out and must authenticate on the way in. Sans-I/O: bytes and a
 * clock in, sealed packets and a deadline out.
 *
 * KCP runs in epochs. A direct path that died took the segments in flight
 * with it, and the byte-offset layer above has resent them on the relay; the
 * next direct path starts a fresh KCP (`newEpoch`, conv + 1) rather than
 * reviving one that retransmitted into nothing. A packet of a newer epoch
 * from the peer replaces ours the same way, so both ends converge on the
 * newest epoch whoever starts it. The seal (keys, counters, replay window)
 * spans all epochs: a counter is never reused whatever KCP does.
 */
export class SecureKcp {
  private current: KcpConnection | null = null;
  /** The current epoch's conversation id (meaningless while `current` is null). */
  private conv = 0;
  private readonly sealer: PacketSealer;
  readonly opener: PacketOpener;
  readonly stats: SecureKcpStats = { packetsIn: 0, packetsOut: 0, kcpRejected: 0, epochs: 0 };
  private readonly baseConv: number;
  private readonly tuning: Omit<KcpOptions, 'conv' | 'output' | 'mtu'>;
  private readonly output: (datagram: Uint8Array) => void;
  private packetMtu: number;
  /** Counters of the epochs that ended, so stats span the session. */
  private readonly retired: KcpStats = createKcpStats();

  constructor(opts: SecureKcpOptions) {
    this.sealer = new PacketSealer(opts.keys.sendKey, { aead: opts.keys.aead });
    this.opener = new PacketOpener(opts.keys.recvKey, { aead: opts.keys.aead, replayWindow: opts.replayWindow ?? DEFAULT_REPLAY_WINDOW });
    this.baseConv = opts.conv >>> 0;
    this.tuning = opts.kcp ?? {};
    this.packetMtu = opts.packetMtu;
    const onPacket = opts.onPacket;
    this.output = (datagram) => {
      this.stats.packetsOut++;
      onPacket(this.sealer.seal(datagram));
    };
  }

  /** The current epoch's KCP, or null before the first path or packet. */
  get kcp(): KcpConnection | null {
    return this.current;
  }

  /**
   * The packet size of the path KCP now sends on: new segments of the
   * current epoch and every later epoch use it (the receiving KCP takes any
   * segment size, so the two ends need not agree).
   */
  setPacketMtu(packetMtu: number): void {
    if (packetMtu === this.packetMtu) return;
    this.packetMtu = packetMtu;
    this.current?.setMtu(packetMtu - SEALED_OVERHEAD);
  }

  /** Starts the next epoch: a fresh KCP; what the old one held is dropped. */
  newEpoch(): void {
    const conv = this.current === null ? this.baseConv : (this.conv + 1) >>> 0;
    this.replace(this.create(conv), conv);
  }

  /**
   * Feeds one packet from any path. Only an authentic packet that KCP takes
   * changes anything; a newer epoch's first packet replaces the current KCP.
   */
  receive(packet: Uint8Array, now: number): KcpReceipt {
    const plain = this.opener.open(packet);
    if (plain === null) return 'rejected';
    this.stats.packetsIn++;
    if (plain.length < 4) {
      this.stats.kcpRejected++;
      return 'rejected';
    }
    const conv = plain.readUInt32LE(0);
    const current = this.current;
    if (current !== null && conv === this.conv) {
      if (current.input(plain, now)) return 'accepted';
      this.stats.kcpRejected++;
      return 'rejected';
    }
    // The peer's first epoch is ours too; after that only a newer one counts.
    const newer = current === null ? diff32(conv, this.baseConv) >= 0 : diff32(conv, this.conv) > 0;
    if (!newer) {
      this.stats.kcpRejected++;
      return 'rejected';
    }
    const fresh = this.create(conv);
    if (!fresh.input(plain, now)) {
      fresh.release();
      this.stats.kcpRejected++;
      return 'rejected';
    }
    this.replace(fresh, conv);
    return 'new-epoch';
  }

  /** KCP counters over every epoch of the session. */
  kcpStats(): KcpStats {
    const sum = { ...this.retired };
    const now = this.current?.stats;
    if (now !== undefined) for (const k of Object.keys(sum) as Array<keyof KcpStats>) sum[k] += now[k];
    return sum;
  }

  release(): void {
    this.current?.release();
  }

  private create(conv: number): KcpConnection {
    return new KcpConnection({
      ...this.tuning,
      conv,
      mtu: this.packetMtu - SEALED_OVERHEAD,
      output: this.output,
    });
  }

  private replace(next: KcpConnection, conv: number): void {
    const old = this.current;
    if (old !== null) {
      for (const k of Object.keys(this.retired) as Array<keyof KcpStats>) this.retired[k] += old.stats[k];
      old.release();
    }
    this.current = next;
    this.conv = conv;
    this.stats.epochs++;
  }
}

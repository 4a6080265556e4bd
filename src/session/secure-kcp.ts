import { KcpConnection, type KcpOptions } from '../kcp/index.js';
import { DEFAULT_REPLAY_WINDOW, PacketOpener, PacketSealer, SEALED_OVERHEAD, type SessionKeys } from '../crypto/index.js';

export interface SecureKcpOptions {
  keys: SessionKeys;
  /** KCP conversation id; both ends must agree. */
  conv: number;
  /** Largest sealed packet a path carries; KCP's MTU is this minus the seal overhead. */
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
  /** Authenticated packets KCP refused (wrong conv, malformed inside the seal). */
  kcpRejected: number;
}

/**
 * The sans-I/O core of a tunnel session: KCP whose every datagram is sealed
 * on the way out and must authenticate on the way in. Bytes and a clock in,
 * sealed packets and a deadline out; no sockets, no timers.
 */
export class SecureKcp {
  readonly kcp: KcpConnection;
  private readonly sealer: PacketSealer;
  readonly opener: PacketOpener;
  readonly stats: SecureKcpStats = { packetsIn: 0, packetsOut: 0, kcpRejected: 0 };

  constructor(opts: SecureKcpOptions) {
    this.sealer = new PacketSealer(opts.keys.sendKey, { aead: opts.keys.aead });
    this.opener = new PacketOpener(opts.keys.recvKey, { replayWindow: opts.replayWindow ?? DEFAULT_REPLAY_WINDOW, aead: opts.keys.aead });
    const onPacket = opts.onPacket;
    this.kcp = new KcpConnection({
      ...opts.kcp,
      conv: opts.conv,
      mtu: opts.packetMtu - SEALED_OVERHEAD,
      output: (datagram) => {
        this.stats.packetsOut++;
        onPacket(this.sealer.seal(datagram));
      },
    });
  }

  /**
   * Feeds one packet from any path. Returns true only if it authenticated and
   * KCP accepted it; anything else is dropped, counted, and changes nothing.
   */
  receive(packet: Uint8Array, now: number): boolean {
    const plain = this.opener.open(packet);
    if (plain === null) return false;
    this.stats.packetsIn++;
    if (!this.kcp.input(plain, now)) {
      this.stats.kcpRejected++;
      return false;
    }
    return true;
  }

  send(bytes: Uint8Array): void {
    this.kcp.send(bytes);
  }

  recv(): Buffer | null {
    return this.kcp.recv();
  }

  flush(now: number): void {
    this.kcp.flush(now);
  }

  update(now: number): void {
    this.kcp.update(now);
  }

  check(now: number): number {
    return this.kcp.check(now);
  }

  waitSnd(): number {
    return this.kcp.waitSnd();
  }

  get dead(): boolean {
    return this.kcp.dead;
  }

  release(): void {
    this.kcp.release();
  }
}

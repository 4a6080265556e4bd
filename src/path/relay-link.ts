import type { StreamSocket } from '../net/stream-transport.js';
import type { DatagramPath, PathReceiver } from './datagram-path.js';

/**
 * A relay path: sealed packets carried over a TCP connection that the
 * rendezvous splices to the other peer's. Each packet travels as
 *
 *   length u16 big-endian | packet
 *
 * The rendezvous sees only these sealed packets. The link behaves like a
 * datagram path: when the TCP send queue is full it drops (KCP retransmits)
 * rather than buffering without bound.
 */
export interface RelayLinkStats {
  packetsIn: number;
  packetsOut: number;
  /** Dropped because the TCP send queue was over its bound. */
  queueDrops: number;
}

const HEADER = 2;

export class RelayLink implements DatagramPath {
  readonly kind = 'relay' as const;
  readonly label: string;
  readonly stats: RelayLinkStats = { packetsIn: 0, packetsOut: 0, queueDrops: 0 };
  private receiver: PathReceiver | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private corked = false;
  private closed = false;
  private readonly onClose: Array<() => void> = [];

  constructor(
    private readonly socket: StreamSocket,
    opts: { label?: string; mtu?: number; maxQueuedBytes?: number; leftover?: Buffer } = {},
  ) {
    this.label = opts.label ?? 'relay via rendezvous';
    this.mtu = opts.mtu ?? 0xffff;
    this.maxQueued = opts.maxQueuedBytes ?? 8 * 1024 * 1024;
    socket.setNoDelay(true);
    // No 'data' listener until bind(): the socket stays paused, so nothing
    // that arrives before there is a receiver is lost.
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    if (opts.leftover && opts.leftover.length > 0) this.pending = opts.leftover;
  }

  readonly mtu: number;
  private readonly maxQueued: number;

  bind(receiver: PathReceiver): this {
    const first = this.receiver === null;
    this.receiver = receiver;
    if (first) {
      if (this.pending.length > 0) this.onData(Buffer.alloc(0));
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.resume();
    }
    return this;
  }

  /** Called once when the link closes (the TCP connection ended or failed). */
  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.onClose.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(packet: Uint8Array): void {
    if (this.closed) return;
    if (packet.length === 0 || packet.length > 0xffff) return;
    if (this.socket.writableLength > this.maxQueued) {
      this.stats.queueDrops++;
      return;
    }
    const frame = Buffer.allocUnsafe(HEADER + packet.length);
    frame.writeUInt16BE(packet.length, 0);
    frame.set(packet, HEADER);
    // Cork for the rest of this turn: a burst of packets leaves in one writev.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
    this.stats.packetsOut++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.pending = Buffer.alloc(0);
    for (const fn of this.onClose.splice(0)) fn();
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private onData(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt16BE(off);
      if (len === 0) {
        // Zero-length packets are never sent: the byte stream is corrupt.
        this.close();
        return;
      }
      if (buf.length - off - HEADER < len) break;
      const packet = buf.subarray(off + HEADER, off + HEADER + len);
      off += HEADER + len;
      this.stats.packetsIn++;
      this.receiver?.(packet, this);
      if (this.closed) return;
    }
    this.pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
  }
}

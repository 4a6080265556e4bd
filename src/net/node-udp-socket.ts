import type { Socket } from 'node:dgram';
import { assertValidTtl, type UdpEndpoint, type UdpMessageHandler, type UdpSocket } from './udp-socket.js';

export interface UdpSocketStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** Sends that failed (bad port, no route, EMSGSIZE, ...). */
  sendErrors: number;
  /** Asynchronous errors the socket itself raised. */
  socketErrors: number;
  /** send() calls after close(), silently dropped. */
  droppedAfterClose: number;
}

/**
 * UdpSocket over a bound node:dgram socket (create it with bindUdpSocket).
 *
 * Endpoints must be IP literals: the socket is created with a lookup that
 * hands the address straight back (no DNS), which also makes dgram's send
 * synchronous. A hostname is not resolved; the send fails and is reported
 * through onError.
 *
 * send() hands the datagram to the kernel before returning whenever the
 * kernel send buffer has room (the normal case). If it is full, Node queues
 * a reference to `data` (no copy) and sends it once there is room; so under
 * such a burst a caller that mutates a reused buffer right after send()
 * changes the queued datagram. Sealed packets are fresh buffers, so the
 * session path is unaffected.
 *
 * Errors never throw out of send(): they are counted in `stats` and passed to
 * the onError handler (default: ignore). ICMP unreachable must not kill a
 * protocol loop.
 */
export class NodeUdpSocket implements UdpSocket {
  private readonly socket: Socket;
  private readonly local: UdpEndpoint;
  private readonly counts: UdpSocketStats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    socketErrors: 0,
    droppedAfterClose: 0,
  };
  private messageHandler: UdpMessageHandler = () => {};
  private errorHandler: (err: Error) => void = () => {};
  private isClosed = false;

  /** `socket` must already be bound. Prefer bindUdpSocket. */
  constructor(socket: Socket) {
    this.socket = socket;
    const { address, port } = socket.address();
    this.local = Object.freeze({ address, port });
    socket.on('message', this.handleMessage);
    socket.on('error', this.handleSocketError);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Live counters (read-only view). */
  get stats(): Readonly<UdpSocketStats> {
    return this.counts;
  }

  send(data: Uint8Array, to: UdpEndpoint): void {
    if (this.isClosed) {
      this.counts.droppedAfterClose++;
      return;
    }
    try {
      // One shared callback, no per-call closure: dgram reports send errors
      // only through a callback (without one they are silently dropped).
      this.socket.send(data, to.port, to.address, this.afterSend);
    } catch (err) {
      // Synchronous validation errors (bad port, bad argument types).
      this.sendFailed(err);
      return;
    }
    this.counts.datagramsOut++;
    this.counts.bytesOut += data.length;
  }

  onMessage(handler: UdpMessageHandler): void {
    this.messageHandler = handler;
  }

  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  localEndpoint(): UdpEndpoint {
    return this.local;
  }

  /** Throws ERR_INVALID_ARGUMENT unless 1..255; OS failures go to onError; no-op once closed. */
  setTtl(ttl: number): void {
    assertValidTtl(ttl);
    if (this.isClosed) return;
    try {
      this.socket.setTTL(ttl);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Kernel buffer sizes in bytes as the OS reports them (Linux doubles what was set). */
  bufferSizes(): { recv: number; send: number } {
    if (this.isClosed) return { recv: 0, send: 0 };
    return { recv: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      this.socket.close();
    } catch {
      // Already closed underneath us: nothing left to release.
    }
  }

  private readonly handleMessage = (data: Buffer, from: UdpEndpoint): void => {
    if (this.isClosed) return;
    this.counts.datagramsIn++;
    this.counts.bytesIn += data.length;
    // `from` is dgram's RemoteInfo ({ address, family, port, size }), passed
    // as is to avoid an allocation per datagram.
    this.messageHandler(data, from);
  };

  private readonly afterSend = (err: Error | null): void => {
    if (err) this.sendFailed(err);
  };

  private readonly handleSocketError = (err: Error): void => {
    this.counts.socketErrors++;
    if (!this.isClosed) this.errorHandler(err);
  };

  private sendFailed(err: unknown): void {
    this.counts.sendErrors++;
    this.reportError(err);
  }

  private reportError(err: unknown): void {
    if (this.isClosed) return;
    this.errorHandler(err instanceof Error ? err : new Error(String(err)));
  }
}

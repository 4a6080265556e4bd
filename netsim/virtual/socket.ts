import { BurrowError } from '../../src/errors.js';
import { assertValidTtl, type UdpEndpoint, type UdpMessageHandler, type UdpSocket } from '../../src/net/udp-socket.js';
import { DEFAULT_TTL, isIpv4, MAX_PAYLOAD } from './packet.js';

/** Counters of one virtual socket. */
export interface VirtualSocketStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** Sends refused (bad endpoint, too large, no route), reported through onError. */
  sendErrors: number;
  /** send() calls after close(), silently dropped. */
  droppedAfterClose: number;
}

/** What a socket needs from its host (kept narrow so the socket is easy to reason about). */
export interface SocketHost {
  readonly name: string;
  transmit(socket: VirtualUdpSocket, data: Uint8Array, to: UdpEndpoint, ttl: number): string | null;
  release(socket: VirtualUdpSocket): void;
}

/**
 * A UDP socket on a virtual host. Same contract as NodeUdpSocket: send never
 * throws (failures go to onError), close is idempotent, no handler runs after
 * close, setTtl throws ERR_INVALID_ARGUMENT outside 1..255.
 */
export class VirtualUdpSocket implements UdpSocket {
  private messageHandler: UdpMessageHandler = () => {};
  private errorHandler: (err: Error) => void = () => {};
  private isClosed = false;
  private ttl = DEFAULT_TTL;
  readonly stats: VirtualSocketStats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    droppedAfterClose: 0,
  };
  private readonly local: UdpEndpoint;

  constructor(
    private readonly host: SocketHost,
    local: UdpEndpoint,
  ) {
    this.local = Object.freeze({ address: local.address, port: local.port });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: Uint8Array, to: UdpEndpoint): void {
    if (this.isClosed) {
      this.stats.droppedAfterClose++;
      return;
    }
    if (!isIpv4(to.address) || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
      this.fail(new BurrowError('ERR_INVALID_ARGUMENT', `bad destination ${to.address}:${to.port}`));
      return;
    }
    if (data.length > MAX_PAYLOAD) {
      this.fail(new BurrowError('ERR_INVALID_ARGUMENT', `datagram of ${data.length} bytes exceeds ${MAX_PAYLOAD} (EMSGSIZE)`));
      return;
    }
    const err = this.host.transmit(this, data, to, this.ttl);
    if (err !== null) {
      this.fail(new BurrowError('ERR_INVALID_ARGUMENT', err));
      return;
    }
    this.stats.datagramsOut++;
    this.stats.bytesOut += data.length;
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

  setTtl(ttl: number): void {
    assertValidTtl(ttl);
    if (this.isClosed) return;
    this.ttl = ttl;
  }

  /** TTL of datagrams sent from now on. */
  get currentTtl(): number {
    return this.ttl;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.host.release(this);
  }

  /** Called by the host when a datagram arrives for this socket. */
  deliver(data: Buffer, from: UdpEndpoint): boolean {
    if (this.isClosed) return false;
    this.stats.datagramsIn++;
    this.stats.bytesIn += data.length;
    this.messageHandler(data, from);
    return true;
  }

  private fail(err: Error): void {
    this.stats.sendErrors++;
    this.errorHandler(err);
  }
}

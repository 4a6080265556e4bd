import { BurrowError } from '../../src/errors.js';
import { assertValidTtl, type UdpEndpoint, type UdpMessageHandler, type UdpSocket } from '../../src/net/udp-socket.js';
import { DEFAULT_TTL, familyOf, MAX_PAYLOAD, MAX_PAYLOAD_V6 } from './packet.js';
import { endpointText, isV4Mapped } from './ip6.js';

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

/** Why the host could not send (the errno node:dgram would report, and a message). */
export interface SendFailure {
  errno: string;
  message: string;
}

/** What a socket needs from its host (kept narrow so the socket is easy to reason about). */
export interface SocketHost {
  readonly name: string;
  transmit(socket: VirtualUdpSocket, data: Uint8Array, to: UdpEndpoint, ttl: number): SendFailure | null;
  release(socket: VirtualUdpSocket): void;
}

/**
 * A UDP socket on a virtual host. Same contract as NodeUdpSocket: send never
 * throws (failures go to onError), close is idempotent, no handler runs after
 * close, setTtl throws ERR_INVALID_ARGUMENT outside 1..255.
 *
 * Its family is its bound address's: a socket on an IPv4 address or 0.0.0.0
 * is a udp4 socket, one on an IPv6 address or `::` a udp6 socket bound
 * IPv6-only (as burrow binds one socket per family: no `::ffff:` mapped
 * peers). Sending to the other family fails like node:dgram (EINVAL; a
 * mapped address from a udp6 socket: ENETUNREACH); the error is a BurrowError
 * whose `cause` carries node's errno `code`.
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
  /** 4 for udp4, 6 for udp6. */
  readonly family: 4 | 6;

  constructor(
    private readonly host: SocketHost,
    local: UdpEndpoint,
  ) {
    this.local = Object.freeze({ address: local.address, port: local.port });
    this.family = local.address.includes(':') ? 6 : 4;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: Uint8Array, to: UdpEndpoint): void {
    if (this.isClosed) {
      this.stats.droppedAfterClose++;
      return;
    }
    const family = familyOf(to.address);
    if (family === 0 || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
      this.fail(new BurrowError('ERR_INVALID_ARGUMENT', `bad destination ${to.address}:${to.port}`));
      return;
    }
    if (family !== this.family) {
      const why = `a udp${this.family} socket cannot send to an IPv${family} address`;
      this.fail(sendError('EINVAL', `send EINVAL ${endpointText(to.address, to.port)}: ${why}`));
      return;
    }
    if (family === 6 && isV4Mapped(to.address)) {
      this.fail(sendError('ENETUNREACH', `send ENETUNREACH ${endpointText(to.address, to.port)}: the socket is IPv6-only`));
      return;
    }
    const max = family === 6 ? MAX_PAYLOAD_V6 : MAX_PAYLOAD;
    if (data.length > max) {
      this.fail(new BurrowError('ERR_INVALID_ARGUMENT', `datagram of ${data.length} bytes exceeds ${max} (EMSGSIZE)`));
      return;
    }
    const err = this.host.transmit(this, data, to, this.ttl);
    if (err !== null) {
      this.fail(sendError(err.errno, err.message));
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

/** A send failure as node reports it (errno `code`, `syscall` 'send'), wrapped in the lane's BurrowError. */
function sendError(errno: string, message: string): BurrowError {
  const cause: NodeJS.ErrnoException = new Error(message);
  cause.code = errno;
  cause.syscall = 'send';
  return new BurrowError('ERR_INVALID_ARGUMENT', message, { cause });
}

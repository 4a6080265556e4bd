import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { isIP } from 'node:net';
import { BurrowError } from '../errors.js';
import { formatEndpoint } from './endpoint.js';
import { NodeUdpSocket } from './node-udp-socket.js';

export interface BindUdpSocketOptions {
  /** IP literal to bind. Default '0.0.0.0' (udp4) or '::' (udp6). */
  address?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default: 'udp6' for an IPv6 `address`, else 'udp4'. */
  type?: SocketType;
  /** udp6 only: refuse IPv4 (no `::ffff:` mapped peers), so a udp4 socket can share the port. Default false. */
  ipv6Only?: boolean;
  /**
   * SO_REUSEADDR. Default false. Linux lets a wildcard socket and sockets on
   * that port bound to concrete addresses coexist only when every one of them
   * sets it, and then delivers each datagram to the most specific match.
   */
  reuseAddr?: boolean;
  /** Kernel receive buffer to ask for. Default 4 MiB (the OS may cap it). */
  recvBufferSize?: number;
  /** Kernel send buffer to ask for. Default 4 MiB (the OS may cap it). */
  sendBufferSize?: number;
}

/** KCP sends whole windows at once: ask for room for bursts. */
export const DEFAULT_SOCKET_BUFFER_SIZE = 4 * 1024 * 1024;

const BIND_HINTS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another socket is bound to this port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available (no local interface has this address)',
};

function invalid(message: string): BurrowError {
  return new BurrowError('ERR_INVALID_ARGUMENT', message);
}

function checkBufferSize(name: string, size: number | undefined): number {
  if (size === undefined) return DEFAULT_SOCKET_BUFFER_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > 2 ** 31 - 1) {
    throw invalid(`${name} must be a positive integer, got ${size}`);
  }
  return size;
}

/** Sets a kernel buffer size; the OS may refuse or cap it, which is fine. */
function trySetBuffer(set: () => void): void {
  try {
    set();
  } catch {
    // Keep the OS default.
  }
}

/**
 * Binds a UDP socket and resolves once it is listening. Rejects with
 * ERR_SOCKET_BIND (message names the address and the reason, `cause` holds
 * the system error) or ERR_INVALID_ARGUMENT. `address` must be an IP literal.
 */
export function bindUdpSocket(opts: BindUdpSocketOptions = {}): Promise<NodeUdpSocket> {
  try {
    return bindChecked(opts);
  } catch (err) {
    return Promise.reject(err);
  }
}

function bindChecked(opts: BindUdpSocketOptions): Promise<NodeUdpSocket> {
  const family = opts.address === undefined ? 0 : isIP(opts.address);
  if (opts.address !== undefined && family === 0) {
    throw invalid(`UDP bind address must be an IP literal, got ${JSON.stringify(opts.address)}`);
  }
  const type: SocketType = opts.type ?? (family === 6 ? 'udp6' : 'udp4');
  if (type !== 'udp4' && type !== 'udp6') throw invalid(`socket type must be 'udp4' or 'udp6', got ${String(type)}`);
  if (type === 'udp4' && family === 6) throw invalid(`cannot bind a udp4 socket to IPv6 address ${opts.address}`);
  if (type === 'udp6' && family === 4) throw invalid(`cannot bind a udp6 socket to IPv4 address ${opts.address}`);
  if (opts.ipv6Only === true && type !== 'udp6') throw invalid('ipv6Only needs a udp6 socket');
  const address = opts.address ?? (type === 'udp6' ? '::' : '0.0.0.0');
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`UDP port must be 0..65535, got ${port}`);
  const recvBufferSize = checkBufferSize('recvBufferSize', opts.recvBufferSize);
  const sendBufferSize = checkBufferSize('sendBufferSize', opts.sendBufferSize);
  const where = formatEndpoint({ address, port });
  const lookupFamily = type === 'udp6' ? 6 : 4;

  return new Promise<NodeUdpSocket>((resolve, reject) => {
    const socket: Socket = createSocket({
      type,
      ipv6Only: opts.ipv6Only ?? false,
      reuseAddr: opts.reuseAddr ?? false,
      // Endpoints are IP literals: no DNS, and dgram's send stays synchronous.
      lookup: (hostname, _options, callback) => callback(null, hostname, lookupFamily),
    });
    const onBindError = (err: NodeJS.ErrnoException): void => {
      try {
        socket.close();
      } catch {
        // Never became usable; nothing to release.
      }
      const reason = (err.code && BIND_HINTS[err.code]) ?? err.message;
      const code = err.code ? ` [${err.code}]` : '';
      reject(new BurrowError('ERR_SOCKET_BIND', `cannot bind UDP socket to ${where}: ${reason}${code}`, { cause: err }));
    };
    socket.once('error', onBindError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onBindError);
      trySetBuffer(() => socket.setRecvBufferSize(recvBufferSize));
      trySetBuffer(() => socket.setSendBufferSize(sendBufferSize));
      resolve(new NodeUdpSocket(socket));
    });
  });
}

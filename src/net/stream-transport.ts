import type { Duplex } from 'node:stream';

/**
 * The reliable byte streams burrow uses (control channel, relay links, the
 * visitor's local listener, the provider's connection to its target), as an
 * interface: production uses node:net (node-stream-transport.ts); netsim's
 * in-process network implements the same over virtual hosts, so whole
 * sessions run on a fake clock.
 *
 * `StreamSocket` is the part of net.Socket the code uses, so a net.Socket
 * satisfies it as it is.
 */
export interface StreamSocket extends Duplex {
  /** The peer's address as this side sees it (after any NAT); undefined once destroyed. */
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  setNoDelay(noDelay?: boolean): this;
  /** Abortive close: the peer sees a reset (ECONNRESET), not a clean end. */
  resetAndDestroy(): this;
}

export interface StreamAddress {
  address: string;
  port: number;
  family?: string;
}

export interface StreamConnectOptions {
  host: string;
  port: number;
  /** Keep the writable side open after the peer ends (half-close). Default false. */
  allowHalfOpen?: boolean;
  noDelay?: boolean;
}

export interface StreamServerOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  /** Connections beyond this are closed as they arrive. Default unlimited. */
  maxConnections?: number;
}

export interface StreamServer {
  /** Resolves once listening; rejects with the system error (err.code EADDRINUSE, ...). */
  listen(port: number, host: string): Promise<StreamAddress>;
  /** Stops accepting; resolves once every accepted connection has closed too. */
  close(): Promise<void>;
  address(): StreamAddress | null;
}

export interface StreamTransport {
  /** Starts connecting; failures arrive as the socket's 'error' (err.code ECONNREFUSED, ...). */
  connect(opts: StreamConnectOptions): StreamSocket;
  createServer(opts: StreamServerOptions, onConnection: (socket: StreamSocket) => void): StreamServer;
}

import net from 'node:net';
import { once } from 'node:events';
import type { StreamAddress, StreamServer, StreamServerOptions, StreamSocket, StreamTransport } from './stream-transport.js';

/** A net.Server behind the StreamServer interface. */
class NodeStreamServer implements StreamServer {
  private readonly server: net.Server;

  constructor(opts: StreamServerOptions, onConnection: (socket: StreamSocket) => void) {
    this.server = net.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false, noDelay: opts.noDelay ?? false }, onConnection);
    if (opts.maxConnections !== undefined) this.server.maxConnections = opts.maxConnections;
  }

  async listen(port: number, host: string): Promise<StreamAddress> {
    this.server.listen(port, host);
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
    return this.address()!;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  address(): StreamAddress | null {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? null : a;
  }
}

/** node:net: real TCP. */
export const nodeStreamTransport: StreamTransport = {
  connect: (opts) =>
    net.connect({ host: opts.host, port: opts.port, allowHalfOpen: opts.allowHalfOpen ?? false, noDelay: opts.noDelay ?? false }),
  createServer: (opts, onConnection) => new NodeStreamServer(opts, onConnection),
};

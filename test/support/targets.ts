/** TCP services standing in for a NAS: what the provider forwards to. */
import net from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';

export interface Target {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Bytes received from all connections so far. */
  bytesIn: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, state: Target): Promise<Target> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    state.connections++;
    sockets.add(s);
    s.on('data', (d: Buffer) => (state.bytesIn += d.length));
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as net.AddressInfo).port;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return state;
}

const blank = (): Target => ({ port: 0, connections: 0, bytesIn: 0, close: async () => {} });

/** Echoes everything back; half-close answered with half-close. */
export function echoTarget(): Promise<Target> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  return listen(server, blank());
}

/** Writes a banner before reading anything (SSH, SMTP, VNC behave like this). */
export function bannerTarget(banner: string): Promise<Target> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.write(banner);
    s.pipe(s);
  });
  return listen(server, blank());
}

/**
 * Full duplex: sends `download` to each client while hashing what the client
 * uploads; when the client half-closes, appends nothing and closes after its
 * own data is out. `uploads` collects the SHA-256 of each upload.
 */
export function duplexTarget(download: Buffer, uploads: string[]): Promise<Target> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const hash = createHash('sha256');
    s.on('data', (d: Buffer) => hash.update(d));
    s.on('end', () => {
      uploads.push(hash.digest('hex'));
      s.end();
    });
    s.write(download);
  });
  return listen(server, blank());
}

/** Resets every connection after reading its first bytes. */
export function resetTarget(): Promise<Target> {
  const server = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
  return listen(server, blank());
}

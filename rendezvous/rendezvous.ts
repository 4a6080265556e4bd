/**
 * A complete rendezvous: the TCP control/relay server and its STUN UDP
 * service, built, started and closed as one. The CLI, the tests and netsim's
 * in-process lab all build theirs here.
 */
import { BurrowError } from '../src/errors.js';
import type { StreamAddress } from '../src/net/stream-transport.js';
import { RendezvousServer, type RendezvousOptions, type RendezvousStats } from './server.js';
import { bindStunSockets, type BoundStunSockets } from './stun-bind.js';
import { UdpService } from './udp-service.js';

export interface RendezvousConfig extends RendezvousOptions {
  /** The STUN service's sockets, already bound in their layout (the rendezvous owns them from now on); null = no UDP service. */
  stun?: BoundStunSockets | null;
}

export class Rendezvous {
  readonly server: RendezvousServer;
  /** The STUN port(s), if any. */
  readonly udp: UdpService | null;
  private address: StreamAddress | null = null;
  private closing: Promise<void> | null = null;

  /** Builds it without listening yet (listen() starts the TCP side; the UDP sockets answer already). */
  constructor(config: RendezvousConfig) {
    const stun = config.stun ?? null;
    this.udp = stun === null ? null : new UdpService(stun.layout, stun.sockets, config.scheduler ? { scheduler: config.scheduler } : {});
    // The listening line names the UDP sockets too, so scripts learn both at once.
    this.server = new RendezvousServer({ ...config, ...(this.udp ? { listeningFields: { udp: this.udp.describe() } } : {}) });
  }

  async listen(): Promise<StreamAddress> {
    this.address = await this.server.listen();
    return this.address;
  }

  /** The TCP address, once listening. */
  get tcp(): StreamAddress | null {
    return this.address;
  }

  get stats(): RendezvousStats {
    return this.server.stats;
  }

  /** Closes the UDP sockets and the server (every connection too); the same promise if called again. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.udp?.close();
      this.closing = this.server.close();
    }
    return this.closing;
  }
}

export interface StartRendezvousOptions extends Omit<RendezvousConfig, 'stun'> {
  /**
   * The STUN port: 'off' (or left out) for none; sockets already bound; or
   * where to bind on the real network — `port` defaults to the TCP port's
   * number (with TCP port 0, a free UDP pair is found first and TCP takes its
   * number), `altAddress` adds RFC 5780's second address, `bindErrorHint` is
   * appended to a bind failure's message.
   */
  stun?: 'off' | BoundStunSockets | { port?: number; altAddress?: string | null; bindErrorHint?: string };
}

/** Attempts at one free port number for TCP and UDP both (another process may take it in between). */
const SAME_PORT_ATTEMPTS = 5;

/** Binds, builds and starts a rendezvous; closes whatever it bound if any step fails. */
export async function startRendezvous(opts: StartRendezvousOptions): Promise<Rendezvous> {
  const { stun: udp, ...rest } = opts;
  if (udp === undefined || udp === 'off' || 'sockets' in udp) {
    const rv = new Rendezvous({ ...rest, stun: udp === undefined || udp === 'off' ? null : udp });
    await listenOrClose(rv, opts.host, opts.port);
    return rv;
  }
  const udpPort = udp.port ?? opts.port;
  const sharedEphemeral = opts.port === 0 && udp.port === undefined;
  for (let attempt = 1; ; attempt++) {
    const stun = await bindStunSockets({ host: opts.host, port: udpPort, altAddress: udp.altAddress ?? null }).catch((err: unknown) => {
      if (err instanceof BurrowError && err.code === 'ERR_SOCKET_BIND' && udp.bindErrorHint !== undefined) {
        throw new BurrowError('ERR_SOCKET_BIND', `${err.message} (${udp.bindErrorHint})`, { cause: err });
      }
      throw err;
    });
    const tcpPort = sharedEphemeral ? stun.layout.primary.port : opts.port;
    const rv = new Rendezvous({ ...rest, port: tcpPort, stun });
    try {
      await listenOrClose(rv, opts.host, tcpPort);
      return rv;
    } catch (err) {
      if (sharedEphemeral && err instanceof RendezvousListenError && err.errno === 'EADDRINUSE' && attempt < SAME_PORT_ATTEMPTS) continue;
      throw err;
    }
  }
}

/** The TCP listener could not start (the address is taken, not local, ...). */
export class RendezvousListenError extends BurrowError {
  constructor(
    readonly errno: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

async function listenOrClose(rv: Rendezvous, host: string, port: number): Promise<void> {
  try {
    await rv.listen();
  } catch (err) {
    await rv.close();
    const e = err as NodeJS.ErrnoException;
    throw new RendezvousListenError(e.code, `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: err });
  }
}

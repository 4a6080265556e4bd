/**
 * A complete rendezvous: the TCP control/relay server and its STUN UDP
 * service, built, started and closed as one. The CLI, the tests and netsim's
 * in-process lab all build theirs here.
 */
import { BurrowError } from '../src/errors.js';
import type { InterfaceAddress } from '../src/nat/ipv6-addresses.js';
import type { StreamAddress } from '../src/net/stream-transport.js';
import { RendezvousServer, type RendezvousOptions, type RendezvousStats } from './server.js';
import { bindStunFamilies, NO_IPV6_CODES, type BoundStunSockets, type UdpBinder } from './stun-bind.js';
import { UdpService } from './udp-service.js';
import type { RendezvousView } from './dashboard/view.js';
import type { ClusterNodeHealth } from './cluster/health.js';

export interface RendezvousConfig extends RendezvousOptions {
  /**
   * The STUN service's sockets, already bound in their layout (the rendezvous
   * owns them from now on): one layout, or one per address family; null = no UDP service.
   */
  stun?: BoundStunSockets | readonly BoundStunSockets[] | null;
}

export class Rendezvous {
  readonly server: RendezvousServer;
  /** The STUN port(s), if any: the first family's (IPv6 when dual-stack). */
  readonly udp: UdpService | null;
  /** Every family's STUN ports (one service per family; empty = no UDP service). */
  readonly udpAll: readonly UdpService[];
  private address: StreamAddress | null = null;
  private closing: Promise<void> | null = null;

  /** Builds it without listening yet (listen() starts the TCP side; the UDP sockets answer already). */
  constructor(config: RendezvousConfig) {
    const stun = config.stun ?? null;
    const families: readonly BoundStunSockets[] = stun === null ? [] : 'layout' in stun ? [stun] : stun;
    this.udpAll = families.map((f) => new UdpService(f.layout, f.sockets, config.scheduler ? { scheduler: config.scheduler } : {}, f.perAddress ?? []));
    this.udp = this.udpAll[0] ?? null;
    // The listening line names the UDP sockets too, so scripts learn both at once.
    const udp = this.udpAll.map((u) => u.describe()).join(',');
    // Addresses with sockets of their own on those ports (a wildcard's answers leave from them).
    const udpAddresses = this.udpAll.flatMap((u) => u.addresses()).join(',');
    const fields = { ...(udp !== '' ? { udp } : {}), ...(udpAddresses !== '' ? { udpAddresses } : {}) };
    this.server = new RendezvousServer({ ...config, ...(udp !== '' ? { listeningFields: { ...config.listeningFields, ...fields } } : {}) });
    const notBound = families.flatMap((f) => f.notBound ?? []);
    if (notBound.length > 0) {
      config.logger?.warn('stun-addresses-not-bound', {
        addresses: notBound.map((n) => `${n.address} (${n.reason})`).join('; '),
        note: 'STUN requests to these addresses are answered from the wildcard socket, whose source address the kernel picks: a client firewall may drop them',
      });
    }
  }

  async listen(): Promise<StreamAddress> {
    this.address = await this.server.listen();
    return this.address;
  }

  /** The TCP address, once listening. */
  get tcp(): StreamAddress | null {
    return this.address;
  }

  /** Its cluster health (membership, sessions between nodes), or null when it runs alone. */
  clusterHealth(): ClusterNodeHealth | null {
    return this.server.clusterHealth();
  }

  get stats(): RendezvousStats {
    return this.server.stats;
  }

  /** What its dashboard shows, read now. */
  dashboardView(): RendezvousView {
    return this.server.dashboardView();
  }

  /** Closes the UDP sockets and the server (every connection too); the same promise if called again. */
  close(): Promise<void> {
    if (this.closing === null) {
      for (const u of this.udpAll) u.close();
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
   * appended to a bind failure's message. A `host` of `::` binds the STUN
   * ports once per family (IPv6-only and IPv4 sockets) and TCP dual-stack.
   * `bind` replaces the UDP binder (tests simulate a host without IPv6);
   * `interfaces` the host's address list (a wildcard `host` binds the STUN
   * ports on each of its addresses too, see stun-bind.ts).
   */
  stun?:
    | 'off'
    | BoundStunSockets
    | readonly BoundStunSockets[]
    | { port?: number; altAddress?: string | null; bindErrorHint?: string; bind?: UdpBinder; interfaces?: () => readonly InterfaceAddress[] };
}

/** Attempts at one free port number for TCP and UDP both (another process may take it in between). */
const SAME_PORT_ATTEMPTS = 5;

/** The IPv6 wildcard: dual-stack for TCP, one socket per family for UDP. */
const ANY6 = '::';
const ANY4 = '0.0.0.0';

/**
 * Binds, builds and starts a rendezvous; closes whatever it bound if any step
 * fails. `host` `::` on a host without IPv6 falls back to IPv4 with a warning.
 */
export async function startRendezvous(opts: StartRendezvousOptions): Promise<Rendezvous> {
  const { stun: udp, ...rest } = opts;
  const noIpv6 = (why: string): void =>
    opts.logger?.warn('ipv6-unavailable', { listen: `[::]:${opts.port}`, note: `this host cannot use IPv6 (${why}): listening on IPv4 only` });
  if (udp === undefined || udp === 'off' || isBound(udp)) {
    const stun = udp === undefined || udp === 'off' ? null : udp;
    try {
      return await listenOrClose(new Rendezvous({ ...rest, stun }), opts.host, opts.port);
    } catch (err) {
      if (!(opts.host === ANY6 && stun === null && err instanceof RendezvousListenError && err.errno !== undefined && NO_IPV6_CODES.has(err.errno))) throw err;
      noIpv6(err.errno);
      return listenOrClose(new Rendezvous({ ...rest, host: ANY4, stun: null }), ANY4, opts.port);
    }
  }
  const { bindErrorHint } = udp;
  const udpPort = udp.port ?? opts.port;
  const sharedEphemeral = opts.port === 0 && udp.port === undefined;
  for (let attempt = 1; ; attempt++) {
    const bound = await bindStunFamilies({ host: opts.host, port: udpPort, altAddress: udp.altAddress ?? null, ...(udp.interfaces ? { interfaces: udp.interfaces } : {}) }, udp.bind).catch((err: unknown) => {
      if (err instanceof BurrowError && err.code === 'ERR_SOCKET_BIND' && bindErrorHint !== undefined) {
        throw new BurrowError('ERR_SOCKET_BIND', `${err.message} (${bindErrorHint})`, { cause: err });
      }
      throw err;
    });
    let host = opts.host;
    if (bound.ipv6Unavailable !== null) {
      noIpv6(bound.ipv6Unavailable);
      host = ANY4;
    }
    const first = bound.families[0];
    const tcpPort = sharedEphemeral && first !== undefined ? first.layout.primary.port : opts.port;
    try {
      return await listenOrClose(new Rendezvous({ ...rest, host, port: tcpPort, stun: bound.families }), host, tcpPort);
    } catch (err) {
      if (sharedEphemeral && err instanceof RendezvousListenError && err.errno === 'EADDRINUSE' && attempt < SAME_PORT_ATTEMPTS) continue;
      throw err;
    }
  }
}

function isBound(x: NonNullable<StartRendezvousOptions['stun']>): x is BoundStunSockets | readonly BoundStunSockets[] {
  return typeof x === 'object' && (Array.isArray(x) || 'sockets' in x);
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

async function listenOrClose(rv: Rendezvous, host: string, port: number): Promise<Rendezvous> {
  try {
    await rv.listen();
    return rv;
  } catch (err) {
    await rv.close();
    const e = err as NodeJS.ErrnoException;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    throw new RendezvousListenError(e.code, `cannot listen on ${where}: ${e.code ?? e.message}`, { cause: err });
  }
}

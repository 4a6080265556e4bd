/**
 * Virtual TCP for the in-process lane: reliable, ordered byte streams between
 * virtual hosts, behind the StreamTransport interface burrow's rendezvous and
 * peers use. Enough of TCP for the control channel, relay links and the
 * local application connections:
 *
 * - reachability follows the topology (tcp-route.ts): hosts behind NATs
 *   connect out; nothing connects in to a NAT; UDP-blocked sites keep TCP;
 *   the server sees the outermost NAT's public address; over IPv6 it sees
 *   the host's own address, and nothing connects in through a site's IPv6
 *   firewall; a host without an address of the destination's family gets
 *   ENETUNREACH; a listener on `::` takes both families, one on 0.0.0.0
 *   IPv4 only (as node's net);
 * - connect takes a round trip (the server accepts after the handshake's
 *   third packet); nothing listening = ECONNREFUSED after a round trip; an
 *   unreachable address = ETIMEDOUT after `synTimeoutMs` (Linux retries a SYN
 *   for about 127 s);
 * - each direction delays bytes by the path's link delays, serialises them at
 *   the path's slowest link rate (or `defaultBytesPerSec`) and bounds what is
 *   in flight or unread (`window`) (tcp-socket.ts);
 * - close sends FIN after queued bytes; resetAndDestroy, or closing with
 *   unread bytes, sends RST (ECONNRESET at the peer), as do bytes that reach
 *   a closed socket.
 *
 * Everything runs on the network's VirtualScheduler; ports come from a
 * seeded source, so runs repeat event for event (`trace.digest`).
 */
import { createHash } from 'node:crypto';
import type { LinkEnd } from '../link.js';
import type { SeededRandom } from '../random.js';
import type { VirtualScheduler } from './scheduler.js';
import type {
  StreamAddress,
  StreamConnectOptions,
  StreamServer,
  StreamServerOptions,
  StreamSocket,
  StreamTransport,
} from '../../src/net/stream-transport.js';
import type { VirtualHost, VirtualInterface, VirtualNetwork, VirtualNode } from './network.js';
import { familyOf, fnv1aString } from './packet.js';
import { canonicalIp, endpointText } from './ip6.js';
import { findTcpRoute, isLoopback, pathDelayMs, pathRate } from './tcp-route.js';
import { TcpPipe, VirtualTcpSocket, socketError, type TcpPipeParams } from './tcp-socket.js';

export interface VirtualTcpOptions {
  /** Every node of the network: connections are walked through their interfaces. */
  nodes: readonly VirtualNode[];
  /** Rate of a path whose links set no bandwidth. Default 125 MB/s (1 Gbit/s). */
  defaultBytesPerSec?: number;
  /** Bytes in flight or unread per direction. Default 4 MiB (Linux autotunes receive buffers up to ~6 MB). */
  window?: number;
  /** Largest piece delivered at once. Default 64 KiB. */
  segmentBytes?: number;
  /** Time before a connect to an unreachable address fails with ETIMEDOUT. Default 127 s. */
  synTimeoutMs?: number;
  /** Put a hash of every delivered chunk into the trace (costs a SHA-1 per chunk). Default false. */
  hashPayloads?: boolean;
  /** Keep trace events in `trace.events` (the digest is always kept). Default false. */
  recordTrace?: boolean;
}

export type TcpTraceKind = 'syn' | 'refused' | 'timeout' | 'accept' | 'data' | 'fin' | 'rst';

export interface TcpTraceEvent {
  t: number;
  kind: TcpTraceKind;
  /** "address:port" as the sender addressed / the receiver sees it. */
  from: string;
  to: string;
  len: number;
  /** First 32 bits of the chunk's SHA-1 (with hashPayloads). */
  hash?: number;
  note?: string;
}

export class TcpTrace {
  readonly events: TcpTraceEvent[] = [];
  private h = 0x811c9dc5;
  private n = 0;

  constructor(private readonly record: boolean) {}

  add(e: TcpTraceEvent): void {
    this.n++;
    this.h = fnv1aString(`${e.t}|${e.kind}|${e.from}|${e.to}|${e.len}|${e.hash ?? ''}|${e.note ?? ''}\n`, this.h);
    if (this.record) this.events.push(e);
  }

  get count(): number {
    return this.n;
  }

  get digest(): string {
    return `${this.n}:${this.h.toString(16).padStart(8, '0')}`;
  }
}

export interface VirtualTcpStats {
  connects: number;
  accepted: number;
  refused: number;
  timedOut: number;
  bytesDelivered: number;
}

interface Listener {
  readonly host: VirtualHost;
  readonly address: string;
  readonly port: number;
  readonly server: VirtualStreamServer;
}

const EPHEMERAL_MIN = 32768;
const EPHEMERAL_MAX = 60999;
const WILDCARD = '0.0.0.0';
/** Dual-stack wildcard: accepts both families. */
const WILDCARD6 = '::';

export class VirtualTcp {
  readonly trace: TcpTrace;
  readonly stats: VirtualTcpStats = { connects: 0, accepted: 0, refused: 0, timedOut: 0, bytesDelivered: 0 };
  readonly scheduler: VirtualScheduler;
  private readonly listeners: Listener[] = [];
  private readonly portsInUse = new Map<VirtualHost, Set<number>>();
  private readonly live = new Set<VirtualTcpSocket>();
  /** Connections a host opened across the network (not loopback), by their client socket: what its NAT carries. */
  private readonly outbound = new Map<VirtualTcpSocket, VirtualHost>();
  private readonly rng: SeededRandom;
  private ifaces = new Map<LinkEnd, VirtualInterface>();
  private readonly opts: Required<Omit<VirtualTcpOptions, 'nodes'>>;

  constructor(
    network: VirtualNetwork,
    private readonly nodesOpt: VirtualTcpOptions,
  ) {
    this.scheduler = network.scheduler;
    this.rng = network.rng.fork();
    this.opts = {
      defaultBytesPerSec: nodesOpt.defaultBytesPerSec ?? 125_000_000,
      window: nodesOpt.window ?? 4 * 1024 * 1024,
      segmentBytes: nodesOpt.segmentBytes ?? 64 * 1024,
      synTimeoutMs: nodesOpt.synTimeoutMs ?? 127_000,
      hashPayloads: nodesOpt.hashPayloads ?? false,
      recordTrace: nodesOpt.recordTrace ?? false,
    };
    this.trace = new TcpTrace(this.opts.recordTrace);
    this.indexInterfaces();
  }

  /** The StreamTransport of one host: its connections leave from, and its servers listen on, that host. */
  transport(host: VirtualHost): StreamTransport {
    return {
      connect: (opts) => this.connect(host, opts),
      createServer: (opts, onConnection) => new VirtualStreamServer(this, host, opts, onConnection),
    };
  }

  /** Sockets not yet destroyed (a leak check for tests). */
  get openSockets(): number {
    return this.live.size;
  }

  /**
   * A middlebox on `host`'s way out resets every connection the host opened
   * across the network (a NAT whose state was flushed answers the next
   * segment of each with RST): both ends get ECONNRESET once the RST reaches
   * them. Loopback connections are untouched. Returns how many were reset.
   */
  resetConnectionsOf(host: VirtualHost): number {
    let n = 0;
    for (const [sock, from] of [...this.outbound]) {
      if (from !== host || sock.destroyed || sock.out === null || sock.in === null) continue;
      sock.out.reset();
      sock.in.reset();
      n++;
    }
    return n;
  }

  /** Listening servers (a leak check for tests). */
  get listening(): number {
    return this.listeners.length;
  }

  /** @internal */
  listen(server: VirtualStreamServer, host: VirtualHost, address: string, port: number): Listener {
    const addr = address === '' ? WILDCARD6 : canonicalIp(address);
    if (addr !== WILDCARD && addr !== WILDCARD6 && !isLoopback(addr) && !host.addresses.includes(addr)) {
      throw socketErrorLike('EADDRNOTAVAIL', 'listen', `${addr}:${port}`);
    }
    const used = this.ports(host);
    let p = port;
    if (p === 0) p = this.ephemeral(host);
    else if (this.listeners.some((l) => l.host === host && l.port === p && (l.address === addr || isWildcard(l.address) || isWildcard(addr)))) {
      throw socketErrorLike('EADDRINUSE', 'listen', `${addr}:${p}`);
    }
    used.add(p);
    const l: Listener = { host, address: addr, port: p, server };
    this.listeners.push(l);
    return l;
  }

  /** @internal */
  unlisten(l: Listener): void {
    const i = this.listeners.indexOf(l);
    if (i < 0) return;
    this.listeners.splice(i, 1);
    this.ports(l.host).delete(l.port);
  }

  private connect(host: VirtualHost, opts: StreamConnectOptions): StreamSocket {
    const sched = this.scheduler;
    const sock = new VirtualTcpSocket({ allowHalfOpen: opts.allowHalfOpen ?? false });
    sock.connecting = true;
    this.track(sock, host);
    const localPort = this.ephemeral(host);
    this.ports(host).add(localPort);
    sock.onGone = () => {
      this.ports(host).delete(localPort);
      this.live.delete(sock);
      this.outbound.delete(sock);
    };
    // A connection leaves from the host's first address of the destination's family (none: ENETUNREACH).
    const family = familyOf(opts.host);
    const v6 = family === 6;
    const target = v6 ? canonicalIp(opts.host) : opts.host;
    const source = sourceFor(host, family, isLoopback(target) ? target : null);
    const src = endpointText(source ?? '::', localPort);
    const dst = endpointText(target, opts.port);
    this.stats.connects++;
    this.record({ t: sched.now(), kind: 'syn', from: src, to: dst, len: 0 });
    if (source === undefined) {
      sched.defer(() => sock.failConnect(socketError('ENETUNREACH', 'connect', dst)));
      return sock;
    }
    let result = findTcpRoute(host, source, target, (e) => this.ifaceOf(e));
    if (!result.ok && result.reason === 'no-route') {
      // The topology may have grown since we indexed it.
      this.indexInterfaces();
      result = findTcpRoute(host, source, target, (e) => this.ifaceOf(e));
    }
    if (!result.ok) {
      const { reason, at } = result;
      if (reason === 'no-uplink') {
        sched.defer(() => sock.failConnect(socketError('ENETUNREACH', 'connect', dst)));
        return sock;
      }
      sched.at(sched.now() + this.opts.synTimeoutMs, () => {
        if (sock.destroyed) return;
        this.stats.timedOut++;
        this.record({ t: sched.now(), kind: 'timeout', from: src, to: dst, len: 0, note: `${reason} at ${at}` });
        sock.failConnect(socketError('ETIMEDOUT', 'connect', dst));
      });
      return sock;
    }
    const route = result.route;
    if (!route.loopback) this.outbound.set(sock, host);
    const back = [...route.ends].reverse().map((e) => e.peer);
    const forwardDelay = pathDelayMs(route.ends);
    const backDelay = pathDelayMs(back);
    const rate = (ends: readonly LinkEnd[]): number =>
      route.loopback ? Infinity : (pathRate(ends) ?? this.opts.defaultBytesPerSec) / 1000;
    const params = (delayMs: number, reverseDelayMs: number, bytesPerMs: number): TcpPipeParams => ({
      delayMs,
      reverseDelayMs,
      bytesPerMs,
      window: this.opts.window,
      segmentBytes: this.opts.segmentBytes,
    });
    const seen = endpointText(route.sourceAsSeen, localPort);
    sock.setEnds({ localAddress: source, localPort, remoteAddress: target, remotePort: opts.port });

    // SYN reaches the far host.
    sched.at(sched.now() + forwardDelay, () => {
      if (sock.destroyed) return;
      const listener = this.findListener(route.host, target, opts.port);
      if (listener === undefined) {
        sched.at(sched.now() + backDelay, () => {
          if (sock.destroyed) return;
          this.stats.refused++;
          this.record({ t: sched.now(), kind: 'refused', from: dst, to: src, len: 0 });
          sock.failConnect(socketError('ECONNREFUSED', 'connect', dst));
        });
        return;
      }
      // SYN-ACK reaches the client: it is connected; the server accepts when the ACK arrives.
      sched.at(sched.now() + backDelay, () => {
        if (sock.destroyed) return;
        const server = new VirtualTcpSocket({ allowHalfOpen: listener.server.allowHalfOpen });
        server.setEnds({ localAddress: target, localPort: opts.port, remoteAddress: route.sourceAsSeen, remotePort: localPort });
        this.track(server, route.host);
        server.onGone = () => this.live.delete(server);
        const events = {
          data: (from: VirtualTcpSocket, to: VirtualTcpSocket, bytes: Buffer) => {
            this.stats.bytesDelivered += bytes.length;
            this.record({
              t: sched.now(),
              kind: 'data',
              from: from === sock ? seen : dst,
              to: to === sock ? src : dst,
              len: bytes.length,
              ...(this.opts.hashPayloads ? { hash: createHash('sha1').update(bytes).digest().readUInt32BE(0) } : {}),
            });
          },
          control: (kind: 'fin' | 'rst', from: VirtualTcpSocket, to: VirtualTcpSocket) => {
            this.record({ t: sched.now(), kind, from: from === sock ? seen : dst, to: to === sock ? src : dst, len: 0 });
          },
        };
        const up = new TcpPipe(sched, sock, server, params(forwardDelay, backDelay, rate(route.ends)), events);
        const down = new TcpPipe(sched, server, sock, params(backDelay, forwardDelay, rate(back)), events);
        sock.out = up;
        sock.in = down;
        server.out = down;
        server.in = up;
        down.open = true;
        sched.at(sched.now() + forwardDelay, () => {
          if (server.destroyed) return;
          if (!listener.server.isListening) {
            server.resetAndDestroy();
            return;
          }
          this.stats.accepted++;
          this.record({ t: sched.now(), kind: 'accept', from: seen, to: dst, len: 0 });
          listener.server.accept(server);
        });
        sock.established();
      });
    });
    return sock;
  }

  private findListener(host: VirtualHost, address: string, port: number): Listener | undefined {
    const v6 = address.includes(':');
    const want = isLoopback(address) && !v6 ? '127.0.0.1' : address;
    let wildcard: Listener | undefined;
    for (const l of this.listeners) {
      if (l.host !== host || l.port !== port) continue;
      if (l.address === want) return l;
      if (l.address === WILDCARD6 || (l.address === WILDCARD && !v6)) wildcard = l;
    }
    return wildcard;
  }

  private track(sock: VirtualTcpSocket, _host: VirtualHost): void {
    this.live.add(sock);
  }

  private ports(host: VirtualHost): Set<number> {
    let s = this.portsInUse.get(host);
    if (s === undefined) {
      s = new Set();
      this.portsInUse.set(host, s);
    }
    return s;
  }

  private ephemeral(host: VirtualHost): number {
    const used = this.ports(host);
    for (let i = 0; i < 1000; i++) {
      const p = this.rng.int(EPHEMERAL_MIN, EPHEMERAL_MAX);
      if (!used.has(p)) return p;
    }
    for (let p = EPHEMERAL_MIN; p <= EPHEMERAL_MAX; p++) if (!used.has(p)) return p;
    throw socketErrorLike('EADDRNOTAVAIL', 'connect', `${host.name}: no free ephemeral port`);
  }

  private ifaceOf(end: LinkEnd): VirtualInterface | undefined {
    return this.ifaces.get(end);
  }

  private indexInterfaces(): void {
    const m = new Map<LinkEnd, VirtualInterface>();
    for (const n of this.nodesOpt.nodes) for (const i of n.interfaces) m.set(i.end, i);
    this.ifaces = m;
  }

  private record(e: TcpTraceEvent): void {
    this.trace.add(e);
  }
}

/** The local address of a connection to an address of `family` (loopback: the loopback's own family). */
function sourceFor(host: VirtualHost, family: 4 | 6 | 0, loopback: string | null): string | undefined {
  if (family === 6) return loopback ?? host.addresses6[0];
  // Not an IP literal: as before IPv6 existed (the route walk refuses it).
  if (family === 0) return host.address;
  return host.addresses4[0] ?? (loopback !== null ? '127.0.0.1' : undefined);
}

function isWildcard(address: string): boolean {
  return address === WILDCARD || address === WILDCARD6;
}

function socketErrorLike(code: string, syscall: string, where: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${where}`);
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** A listening socket on a virtual host. */
export class VirtualStreamServer implements StreamServer {
  private listener: Listener | null = null;
  private closed = false;
  private readonly accepted = new Set<VirtualTcpSocket>();
  private readonly closeWaiters: Array<() => void> = [];
  readonly allowHalfOpen: boolean;
  private readonly maxConnections: number;

  constructor(
    private readonly tcp: VirtualTcp,
    private readonly host: VirtualHost,
    opts: StreamServerOptions,
    private readonly onConnection: (socket: StreamSocket) => void,
  ) {
    this.allowHalfOpen = opts.allowHalfOpen ?? false;
    this.maxConnections = opts.maxConnections ?? Infinity;
  }

  get isListening(): boolean {
    return this.listener !== null && !this.closed;
  }

  listen(port: number, host: string): Promise<StreamAddress> {
    if (this.listener !== null || this.closed) return Promise.reject(socketErrorLike('ERR_SERVER_ALREADY_LISTEN', 'listen', host));
    try {
      this.listener = this.tcp.listen(this, this.host, host, port);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(this.address()!);
  }

  address(): StreamAddress | null {
    const l = this.listener;
    return l === null || this.closed ? null : { address: l.address, port: l.port, family: l.address.includes(':') ? 'IPv6' : 'IPv4' };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.listener !== null) this.tcp.unlisten(this.listener);
    }
    return new Promise<void>((resolve) => {
      if (this.accepted.size === 0) resolve();
      else this.closeWaiters.push(resolve);
    });
  }

  /** @internal */
  accept(socket: VirtualTcpSocket): void {
    if (this.accepted.size >= this.maxConnections) {
      socket.destroy();
      return;
    }
    this.accepted.add(socket);
    socket.once('close', () => {
      this.accepted.delete(socket);
      if (this.closed && this.accepted.size === 0) for (const w of this.closeWaiters.splice(0)) w();
    });
    this.onConnection(socket);
  }
}

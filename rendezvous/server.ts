import { after, every, type TimerHandle } from '../src/clock/scheduler.js';
import {
  ControlConnection,
  NONCE_LENGTH,
  clientProof,
  parseClientMessage,
  proofsEqual,
  serverProof,
  type ClientMessage,
  type ServerMessage,
} from '../src/control/index.js';
import { Logger, RateLimitedLog } from '../src/log/logger.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import type { StreamAddress, StreamServer, StreamSocket } from '../src/net/stream-transport.js';
import { ServiceRegistry } from './registry.js';
import { spliceRelay } from './relay.js';
import { PunchBroker } from './punch-broker.js';
import { DEFAULT_RENDEZVOUS_LIMITS, type RendezvousLimits } from './limits.js';

/**
 * `transport`, `scheduler`, `random` (and `udp`, unused until the direct path
 * lands) default to the real ones; netsim's in-process lane passes virtual ones.
 */
export interface RendezvousOptions extends RuntimeOptions {
  host: string;
  port: number;
  token: string;
  logger?: Logger;
  limits?: Partial<RendezvousLimits>;
  /** Sees every byte the server receives ('in') or sends ('out'), for audits and tests. */
  tap?: ((direction: 'in' | 'out', bytes: Buffer) => void) | undefined;
}

type Conn = ControlConnection<ClientMessage, ServerMessage>;

interface Peer {
  readonly id: string;
  readonly conn: Conn;
  readonly remote: string;
  readonly serverNonce: Buffer;
  state: 'challenged' | 'peer' | 'relay';
  role: 'provider' | 'visitor' | null;
  lastSeen: number;
  pending: number;
  /** Control round trip from the last pong, for synchronising punch starts. */
  rttMs: number | null;
  send(message: ServerMessage): void;
}

interface RelaySide {
  peer: Peer;
}

interface PendingSession {
  readonly connId: string;
  readonly service: string;
  readonly visitor: Peer;
  readonly provider: Peer;
  readonly visitorTicket: Buffer;
  readonly providerTicket: Buffer;
  stage: 'hello' | 'reply' | 'confirm';
  visitorJoin: RelaySide | null;
  providerJoin: RelaySide | null;
  readonly timer: TimerHandle;
}

export interface RendezvousStats {
  connections: number;
  unauthenticated: number;
  peers: number;
  services: number;
  pending: number;
  relayLinks: number;
  relayBytes: number;
  loginsRefused: number;
  invalidFrames: number;
}

/**
 * The rendezvous: authenticates peers, keeps the service registry, passes
 * the end-to-end handshake between visitor and provider (opaque to it), and
 * splices their relay links. It never holds a service secret and never sees
 * tunnel plaintext.
 */
export class RendezvousServer {
  private readonly server: StreamServer;
  private readonly rt: Runtime;
  private readonly log: Logger;
  private readonly limits: RendezvousLimits;
  private readonly registry: ServiceRegistry<Peer>;
  private readonly peers = new Set<Peer>();
  /** Every open socket, relay links included, so close() can end them all. */
  private readonly sockets = new Set<StreamSocket>();
  private readonly pending = new Map<string, PendingSession>();
  private readonly refusals: RateLimitedLog;
  private readonly invalids: RateLimitedLog;
  private heartbeat: TimerHandle | null = null;
  private nextPeerId = 1;
  private relayLinks = 0;
  private readonly broker: PunchBroker<Peer>;
  private readonly counters = { relayBytes: 0, loginsRefused: 0, invalidFrames: 0, unauthenticated: 0 };

  constructor(private readonly opts: RendezvousOptions) {
    this.rt = resolveRuntime(opts);
    this.log = opts.logger ?? new Logger({ fields: { component: 'rendezvous' } });
    this.broker = new PunchBroker<Peer>({ scheduler: this.rt.scheduler, log: (event, fields) => this.log.info(event, fields) });
    this.limits = { ...DEFAULT_RENDEZVOUS_LIMITS, ...opts.limits };
    this.registry = new ServiceRegistry<Peer>();
    const now = () => this.rt.scheduler.now();
    this.refusals = new RateLimitedLog(this.log, undefined, undefined, now);
    this.invalids = new RateLimitedLog(this.log, undefined, undefined, now);
    this.server = this.rt.transport.createServer({ noDelay: true, maxConnections: this.limits.maxConnections }, (socket) =>
      this.onSocket(socket),
    );
  }

  async listen(): Promise<StreamAddress> {
    const addr = await this.server.listen(this.opts.port, this.opts.host);
    this.heartbeat = every(this.rt.scheduler, this.limits.heartbeatIntervalMs, () => this.onHeartbeat());
    this.log.info('listening', { tcp: `${addr.address}:${addr.port}` });
    return addr;
  }

  async close(): Promise<void> {
    this.heartbeat?.cancel();
    this.broker.close();
    for (const p of this.peers) p.conn.close();
    for (const s of this.sockets) s.destroy();
    for (const s of this.pending.values()) s.timer.cancel();
    this.pending.clear();
    await this.server.close();
  }

  get stats(): RendezvousStats {
    return {
      connections: this.peers.size,
      unauthenticated: this.counters.unauthenticated,
      peers: [...this.peers].filter((p) => p.state === 'peer').length,
      services: this.registry.size,
      pending: this.pending.size,
      relayLinks: this.relayLinks,
      relayBytes: this.counters.relayBytes,
      loginsRefused: this.counters.loginsRefused,
      invalidFrames: this.counters.invalidFrames,
    };
  }

  private onSocket(socket: StreamSocket): void {
    socket.on('error', () => {});
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    if (this.counters.unauthenticated >= this.limits.maxUnauthenticated) {
      socket.destroy();
      return;
    }
    if (this.opts.tap) this.tapSocket(socket, this.opts.tap);
    const conn: Conn = new ControlConnection(socket, parseClientMessage);
    const peer: Peer = {
      id: `p${this.nextPeerId++}`,
      conn,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      serverNonce: this.rt.random.bytes(NONCE_LENGTH),
      state: 'challenged',
      role: null,
      lastSeen: this.rt.scheduler.now(),
      pending: 0,
      rttMs: null,
      send: (message: ServerMessage) => conn.send(message),
    };
    this.peers.add(peer);
    this.counters.unauthenticated++;
    const loginTimer = after(this.rt.scheduler, this.limits.loginTimeoutMs, () => {
      if (peer.state === 'challenged') conn.close();
    });
    conn.on('message', (m: ClientMessage) => {
      peer.lastSeen = this.rt.scheduler.now();
      this.onMessage(peer, m);
    });
    conn.on('invalid', (reason: string) => {
      this.counters.invalidFrames++;
      this.invalids.log('warn', 'invalid-frame', { peer: peer.id, remote: peer.remote, reason });
    });
    conn.on('close', () => {
      loginTimer.cancel();
      this.onClose(peer);
    });
    conn.send({ type: 'challenge', nonce: peer.serverNonce.toString('base64'), server: 'burrow-rendezvous' });
  }

  private onMessage(peer: Peer, m: ClientMessage): void {
    if (peer.state === 'challenged') {
      if (m.type === 'login') return this.onLogin(peer, m);
      if (m.type === 'relay-join') return this.onRelayJoin(peer, m);
      return this.refuse(peer, 'NOT_LOGGED_IN', `"${m.type}" before login`);
    }
    if (peer.state !== 'peer') return;
    switch (m.type) {
      case 'ping':
        return peer.conn.send({ type: 'pong', t: m.t });
      case 'pong': {
        const rtt = this.rt.scheduler.now() - m.t;
        if (rtt >= 0 && rtt < 60_000) peer.rttMs = rtt;
        return;
      }
      case 'offer':
        return this.broker.offer(peer, peer.role === 'provider' ? 'provider' : 'visitor', m);
      case 'register':
        return this.onRegister(peer, m.services);
      case 'connect':
        return this.onConnect(peer, m.connId, m.service, m.hello);
      case 'accept':
        return this.onAccept(peer, m.connId, m.reply);
      case 'refuse':
        return this.onProviderRefuse(peer, m.connId, m.code, m.message);
      case 'confirm':
        return this.onConfirm(peer, m.connId, m.confirm, m.direct === true);
      default:
        return this.refuse(peer, 'PROTOCOL', `unexpected "${m.type}" after login`);
    }
  }

  private onLogin(peer: Peer, m: Extract<ClientMessage, { type: 'login' }>): void {
    const clientNonce = Buffer.from(m.nonce, 'base64');
    const expected = clientProof(this.opts.token, peer.serverNonce, clientNonce, m.role);
    if (!proofsEqual(Buffer.from(m.proof, 'base64'), expected)) {
      this.counters.loginsRefused++;
      this.refusals.log('warn', 'login-refused', { peer: peer.id, remote: peer.remote, reason: 'wrong token' });
      return this.refuse(peer, 'BAD_TOKEN', 'the rendezvous token is wrong');
    }
    peer.state = 'peer';
    peer.role = m.role;
    this.counters.unauthenticated--;
    peer.conn.send({
      type: 'welcome',
      proof: serverProof(this.opts.token, peer.serverNonce, clientNonce, m.role).toString('base64'),
      peerId: peer.id,
    });
    this.log.info('peer-login', { peer: peer.id, role: m.role, remote: peer.remote, name: m.name });
    // A first round trip now, so a punch soon after login can be synchronised.
    peer.conn.send({ type: 'ping', t: this.rt.scheduler.now() });
  }

  private onRegister(peer: Peer, services: string[]): void {
    if (peer.role !== 'provider') return this.refuse(peer, 'PROTOCOL', 'only providers register services', false);
    if (services.length > this.limits.maxServicesPerProvider) {
      return this.refuse(peer, 'TOO_MANY_SERVICES', `at most ${this.limits.maxServicesPerProvider} services per provider`, false);
    }
    const r = this.registry.register(peer, services);
    if (!r.ok) {
      const message = r.full
        ? 'the rendezvous has no room for more services'
        : `service name ${r.taken.map((n) => `"${n}"`).join(', ')} is already registered by another provider`;
      this.log.warn('register-refused', { peer: peer.id, services: services.join(','), reason: message });
      peer.conn.send({ type: 'error', code: r.full ? 'FULL' : 'NAME_TAKEN', message, fatal: false });
      return;
    }
    peer.conn.send({ type: 'registered', services });
    this.log.info('registered', { peer: peer.id, services: services.join(',') });
  }

  private onConnect(visitor: Peer, connId: string, service: string, hello: string): void {
    const fail = (code: string, message: string) => visitor.conn.send({ type: 'connect-failed', connId, code, message });
    if (visitor.role !== 'visitor') return this.refuse(visitor, 'PROTOCOL', 'only visitors connect', false);
    const provider = this.registry.lookup(service);
    if (provider === undefined) return fail('NO_SUCH_SERVICE', `no provider is serving "${service}" right now`);
    if (this.pending.has(connId)) return fail('BUSY', 'connection id already in use');
    if (visitor.pending >= this.limits.maxPendingPerVisitor || this.pending.size >= this.limits.maxPending) {
      return fail('BUSY', 'too many session setups in progress; try again');
    }
    if (this.relayLinks >= this.limits.maxRelayLinks) return fail('BUSY', 'the rendezvous has no free relay links');
    const timer = after(this.rt.scheduler, this.limits.pendingTimeoutMs, () => this.expire(connId));
    visitor.pending++;
    this.pending.set(connId, {
      connId,
      service,
      visitor,
      provider,
      visitorTicket: this.rt.random.bytes(32),
      providerTicket: this.rt.random.bytes(32),
      stage: 'hello',
      visitorJoin: null,
      providerJoin: null,
      timer,
    });
    provider.conn.send({ type: 'incoming', connId, service, hello });
    this.log.info('connect', { conn: connId.slice(0, 8), service, visitor: visitor.id, provider: provider.id });
  }

  private onAccept(provider: Peer, connId: string, reply: string): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.provider !== provider || s.stage !== 'hello') return;
    s.stage = 'reply';
    s.visitor.conn.send({ type: 'reply', connId, reply, ticket: s.visitorTicket.toString('base64') });
  }

  private onProviderRefuse(provider: Peer, connId: string, code: string, message: string): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.provider !== provider) return;
    s.visitor.conn.send({ type: 'connect-failed', connId, code, message });
    this.log.info('connect-refused', { conn: connId.slice(0, 8), service: s.service, code });
    this.drop(s);
  }

  private onConfirm(visitor: Peer, connId: string, confirm: string, direct: boolean): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.visitor !== visitor || s.stage !== 'reply') return;
    s.stage = 'confirm';
    // The two may now punch: only they know the session key the probes need.
    if (direct) this.broker.authorize(connId, s.visitor, s.provider, s.service);
    s.provider.conn.send({ type: 'confirm', connId, confirm, ticket: s.providerTicket.toString('base64'), ...(direct ? { direct } : {}) });
  }

  private onRelayJoin(peer: Peer, m: Extract<ClientMessage, { type: 'relay-join' }>): void {
    const s = this.pending.get(m.connId);
    const ticket = Buffer.from(m.ticket, 'base64');
    const side =
      s === undefined ? null
      : proofsEqual(ticket, s.visitorTicket) && s.stage !== 'hello' ? 'visitor'
      : proofsEqual(ticket, s.providerTicket) && s.stage === 'confirm' ? 'provider'
      : null;
    if (s === undefined || side === null || (side === 'visitor' ? s.visitorJoin : s.providerJoin) !== null) {
      this.counters.loginsRefused++;
      this.refusals.log('warn', 'relay-join-refused', { peer: peer.id, remote: peer.remote });
      return this.refuse(peer, 'BAD_TICKET', 'unknown or expired relay ticket');
    }
    peer.state = 'relay';
    this.counters.unauthenticated--;
    if (side === 'visitor') s.visitorJoin = { peer };
    else s.providerJoin = { peer };
    if (s.visitorJoin === null || s.providerJoin === null) return;

    // Both ends are here: hand the two sockets over to the splice.
    const a = s.visitorJoin.peer;
    const b = s.providerJoin.peer;
    this.drop(s, false);
    a.conn.send({ type: 'relay-ok', connId: s.connId });
    b.conn.send({ type: 'relay-ok', connId: s.connId });
    const restA = a.conn.detach();
    const restB = b.conn.detach();
    this.peers.delete(a);
    this.peers.delete(b);
    if (restA.length > 0) b.conn.socket.write(restA);
    if (restB.length > 0) a.conn.socket.write(restB);
    this.relayLinks++;
    this.log.info('relay-start', { conn: s.connId.slice(0, 8), service: s.service });
    spliceRelay(
      a.conn.socket,
      b.conn.socket,
      { idleTimeoutMs: this.limits.relayIdleTimeoutMs, bytesPerSecond: this.limits.relayBytesPerSecond },
      (r) => {
        this.relayLinks--;
        this.counters.relayBytes += r.bytesAtoB + r.bytesBtoA;
        this.log.info('relay-end', {
          conn: s.connId.slice(0, 8),
          service: s.service,
          reason: r.reason,
          bytesToProvider: r.bytesAtoB,
          bytesToVisitor: r.bytesBtoA,
        });
      },
      this.rt.scheduler,
    );
  }

  private expire(connId: string): void {
    const s = this.pending.get(connId);
    if (s === undefined) return;
    s.visitor.conn.send({
      type: 'connect-failed',
      connId,
      code: 'TIMEOUT',
      message: `session setup with the provider of "${s.service}" did not complete in ${this.limits.pendingTimeoutMs} ms`,
    });
    this.drop(s);
  }

  /** Forgets a pending session; closes relay connections that joined it unless they were handed over. */
  private drop(s: PendingSession, closeJoined = true): void {
    s.timer.cancel();
    this.pending.delete(s.connId);
    s.visitor.pending--;
    if (closeJoined) {
      s.visitorJoin?.peer.conn.close();
      s.providerJoin?.peer.conn.close();
    }
  }

  private refuse(peer: Peer, code: string, message: string, fatal = true): void {
    peer.conn.send({ type: 'error', code, message, fatal });
    if (fatal) peer.conn.socket.end(() => peer.conn.close());
  }

  private onClose(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    if (peer.state === 'challenged') this.counters.unauthenticated--;
    if (peer.state !== 'peer') return;
    const removed = this.registry.removeProvider(peer);
    for (const s of [...this.pending.values()]) {
      if (s.provider === peer) {
        s.visitor.conn.send({
          type: 'connect-failed',
          connId: s.connId,
          code: 'PROVIDER_GONE',
          message: `the provider of "${s.service}" disconnected`,
        });
        this.drop(s);
      } else if (s.visitor === peer) {
        this.drop(s);
      }
    }
    this.log.info('peer-gone', { peer: peer.id, role: peer.role ?? undefined, services: removed.join(',') || undefined });
  }

  private onHeartbeat(): void {
    const now = this.rt.scheduler.now();
    for (const peer of this.peers) {
      if (peer.state !== 'peer') continue;
      if (now - peer.lastSeen > this.limits.heartbeatTimeoutMs) {
        this.log.warn('peer-timeout', { peer: peer.id, role: peer.role ?? undefined });
        peer.conn.close();
      } else {
        // Peers echo t unread; the scheduler's clock keeps virtual runs repeatable.
        peer.conn.send({ type: 'ping', t: Math.round(now) });
      }
    }
  }

  private tapSocket(socket: StreamSocket, tap: (direction: 'in' | 'out', bytes: Buffer) => void): void {
    socket.on('data', (chunk: Buffer) => tap('in', chunk));
    const write = socket.write.bind(socket) as (chunk: Uint8Array | string, ...rest: unknown[]) => boolean;
    (socket as { write: typeof write }).write = (chunk, ...rest) => {
      tap('out', Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      return write(chunk, ...rest);
    };
  }
}

import { after, every, type TimerHandle } from '../src/clock/scheduler.js';
import {
  ControlConnection,
  ControlErrorCode,
  NONCE_LENGTH,
  clientProof,
  parseClientMessage,
  peerIdWithCapabilities,
  proofsEqual,
  serverProof,
  type ClientMessage,
  type ServerMessage,
  type WriterOverflow,
} from '../src/control/index.js';
import { Logger, RateLimitedLog, type LogFields } from '../src/log/logger.js';
import { formatEndpoint, normaliseAddress } from '../src/net/endpoint.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import type { StreamAddress, StreamServer, StreamSocket } from '../src/net/stream-transport.js';
import { DEFAULT_RENDEZVOUS_LIMITS, type RendezvousLimits } from './limits.js';
import { heartbeatAction, heartbeatTimers, type HeartbeatTimers } from './heartbeat.js';
import { handOverRelay } from './relay-handover.js';
import type { RendezvousStats } from './stats.js';
import { SessionSetup, type PeerId, type SetupOutput } from './session-setup.js';
import { SlotPool, type Slot } from './slots.js';
import { TrafficCounts, type RefusalReason } from './traffic-counts.js';
import { PeerReports } from './dashboard/peer-reports.js';
import type { RendezvousView } from './dashboard/view.js';
import type { ClusterNode } from './cluster/node.js';
import type { ClusterNodeHealth } from './cluster/health.js';
import { ClusterBridge } from './cluster-bridge.js';

export type { RendezvousStats };

/**
 * `transport`, `scheduler`, `random` default to the real ones; netsim's
 * in-process lane passes virtual ones.
 */
export interface RendezvousOptions extends RuntimeOptions {
  host: string;
  port: number;
  token: string;
  logger?: Logger | undefined;
  limits?: Partial<RendezvousLimits> | undefined;
  /** Sees every byte the server receives ('in') or sends ('out'), for audits and tests. */
  tap?: ((direction: 'in' | 'out', bytes: Buffer) => void) | undefined;
  /** Added to the `listening` log line (the UDP sockets, when a Rendezvous has them). */
  listeningFields?: LogFields | undefined;
  /**
   * Ask peers for a report of their sessions this often (for the dashboard);
   * null or left out: ask for none (and drop any that come).
   */
  reportEveryMs?: number | null | undefined;
  /**
   * This node's membership of a cluster (started, its lease held): services
   * are claimed in Redis and visitors reach providers on other nodes. The
   * server closes it on close().
   */
  cluster?: ClusterNode | undefined;
}

type Control = ControlConnection<ClientMessage, ServerMessage>;

/** One accepted TCP connection, until it is spliced into a relay link or closes. */
interface Conn {
  readonly id: PeerId;
  readonly control: Control;
  readonly remote: string;
  readonly serverNonce: Buffer;
  state: 'challenged' | 'peer' | 'relay';
  role: 'provider' | 'visitor' | null;
  lastSeen: number;
  /** Our latest pong and ping to it (heartbeat.ts). */
  lastPong: number;
  lastPing: number;
  /** When it logged in, and the name it gave (null before login). */
  since: number | null;
  name: string | null;
  /** Held until the connection proves itself (login or relay ticket) or goes. */
  readonly unauthenticated: Slot;
}


/**
 * The rendezvous's TCP side, as I/O around the SessionSetup core: accepts
 * connections, frames and validates messages, checks logins, keeps peers
 * alive with heartbeats, writes what the core says to whom (bounded per
 * connection), and splices relay links. It never holds a service secret and
 * never sees tunnel plaintext.
 */
export class RendezvousServer {
  private readonly server: StreamServer;
  private readonly rt: Runtime;
  private readonly log: Logger;
  private readonly limits: RendezvousLimits;
  private readonly beat: HeartbeatTimers;
  private readonly setup: SessionSetup;
  private readonly unauthenticated: SlotPool;
  private readonly conns = new Map<PeerId, Conn>();
  /** Every open socket, relay links included, so close() can end them all. */
  private readonly sockets = new Set<StreamSocket>();
  private readonly refusals: RateLimitedLog;
  private readonly invalids: RateLimitedLog;
  private readonly overflows: RateLimitedLog;
  /** The core's warnings (a stranger's punch offers, refused registrations) are the peers' doing: rate-limited. */
  private readonly setupWarnings: RateLimitedLog;
  private heartbeat: TimerHandle | null = null;
  private wakeup: { at: number; timer: TimerHandle } | null = null;
  private nextConnId = 1;
  private controlQueuePeak = 0;
  private readonly counters = { relayBytes: 0, loginsRefused: 0, invalidFrames: 0, controlOverflows: 0 };
  private readonly traffic = new TrafficCounts();
  private readonly reports: PeerReports;
  /** Joins the setup to the cluster: null when this node runs alone. */
  private readonly bridge: ClusterBridge | null;

  constructor(private readonly opts: RendezvousOptions) {
    this.rt = resolveRuntime(opts);
    this.log = opts.logger ?? new Logger({ fields: { component: 'rendezvous' } });
    this.limits = { ...DEFAULT_RENDEZVOUS_LIMITS, ...opts.limits };
    this.beat = heartbeatTimers(this.limits);
    this.setup = new SessionSetup(this.limits, this.rt.random);
    this.reports = new PeerReports((peer, connId) => this.setup.sideOf(peer, connId));
    this.unauthenticated = new SlotPool(this.limits.maxUnauthenticated);
    const now = () => this.rt.scheduler.now();
    this.refusals = new RateLimitedLog(this.log, undefined, undefined, now);
    this.invalids = new RateLimitedLog(this.log, undefined, undefined, now);
    this.overflows = new RateLimitedLog(this.log, undefined, undefined, now);
    this.setupWarnings = new RateLimitedLog(this.log, undefined, undefined, now);
    this.bridge =
      opts.cluster === undefined
        ? null
        : new ClusterBridge(
            opts.cluster,
            { setup: this.setup, scheduler: this.rt.scheduler, log: this.log, sendLocal: (peer, m) => this.sendLocal(peer, m), hasPeer: (peer) => this.conns.get(peer)?.state === 'peer', flush: () => this.flush(), refused: (code) => this.traffic.refused(code) },
            this.limits.maxConnections,
          );
    this.server = this.rt.transport.createServer({ noDelay: true, maxConnections: this.limits.maxConnections }, (socket) =>
      this.onSocket(socket),
    );
  }

  async listen(): Promise<StreamAddress> {
    const addr = await this.server.listen(this.opts.port, this.opts.host);
    this.heartbeat = every(this.rt.scheduler, this.limits.heartbeatIntervalMs, () => this.onHeartbeat());
    // `[::]` TCP is dual-stack (node's default): one socket takes both families.
    this.log.info('listening', { tcp: formatEndpoint(addr), ...(addr.address === '::' ? { tcpFamilies: 'ipv6+ipv4' } : {}), maxConnections: this.limits.maxConnections, ...this.opts.listeningFields });
    return addr;
  }

  /** This node's cluster health (membership and sessions between nodes), or null when it runs alone. */
  clusterHealth(): ClusterNodeHealth | null {
    const c = this.opts.cluster;
    // The bridge exists exactly when the node is in a cluster.
    if (c === undefined || this.bridge === null) return null;
    return { ...c.status(), sessions: this.bridge.stats };
  }

  async close(): Promise<void> {
    this.heartbeat?.cancel();
    this.wakeup?.timer.cancel();
    this.wakeup = null;
    this.bridge?.close();
    this.setup.close();
    for (const c of [...this.conns.values()]) c.control.close();
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.server.close(), this.opts.cluster?.close()]);
  }

  get stats(): RendezvousStats {
    const s = this.setup.stats;
    const peersByRole = { provider: 0, visitor: 0 };
    for (const c of this.conns.values()) if (c.state === 'peer' && c.role !== null) peersByRole[c.role]++;
    return {
      connections: this.conns.size,
      unauthenticated: this.unauthenticated.inUse,
      peers: peersByRole.provider + peersByRole.visitor,
      peersByRole,
      services: s.services,
      pending: s.pending,
      relayLinks: s.relayLinks,
      relayBytes: this.counters.relayBytes,
      relayBytesByDirection: this.traffic.relayBytes,
      refusals: this.traffic.refusals,
      loginsRefused: this.counters.loginsRefused,
      invalidFrames: this.counters.invalidFrames,
      controlOverflows: this.counters.controlOverflows,
      controlQueuePeak: Math.max(this.controlQueuePeak, ...[...this.conns.values()].map((c) => c.control.peakQueuedBytes)),
      punchBrokered: s.punch.brokered,
      punchPairs: s.punch.pairs,
      punchOutcomes: this.setup.punchOutcomes,
      punchOffersIgnored: s.punch.offersIgnored,
      punchRejoined: s.punch.rejoined,
    };
  }

  private get reportEveryMs(): number | null {
    return this.opts.reportEveryMs ?? null;
  }

  /**
   * What the dashboard shows, read now: the logged-in peers, services,
   * relayed sessions, what peers reported, and the broker's punch counts.
   * Names, addresses, ids and numbers only: no token, ticket or secret.
   */
  dashboardView(): RendezvousView {
    const peers: RendezvousView['peers'] = [];
    for (const c of this.conns.values()) {
      if (c.state !== 'peer' || c.role === null || c.since === null) continue;
      const nat = this.reports.natOf(c.id);
      peers.push({ id: c.id, role: c.role, remote: c.remote, since: c.since, ...(c.name !== null ? { name: c.name } : {}), ...(nat ? { nat } : {}) });
    }
    return {
      now: this.rt.scheduler.now(),
      peers,
      services: this.setup.services,
      relaySessions: this.setup.relaySessions,
      reported: this.reports.sessions,
      failures: this.reports.failures,
      pairOutcomes: this.reports.pairOutcomes,
      punchOutcomes: this.setup.punchOutcomes,
      reportStats: this.reports.stats,
      reportEveryMs: this.reportEveryMs,
    };
  }

  private onSocket(socket: StreamSocket): void {
    socket.on('error', () => {});
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const slot = this.unauthenticated.acquire();
    if (slot === null) {
      this.traffic.refused('TOO_MANY_UNAUTHENTICATED');
      socket.destroy();
      return;
    }
    const tap = this.opts.tap;
    if (tap) socket.on('data', (chunk: Buffer) => tap('in', chunk));
    const control: Control = new ControlConnection(socket, parseClientMessage, {
      maxQueuedBytes: this.limits.maxControlQueueBytes,
      stallTimeoutMs: this.limits.controlStallTimeoutMs,
      scheduler: this.rt.scheduler,
      ...(tap ? { onWrite: (bytes: Buffer) => tap('out', bytes) } : {}),
    });
    const conn: Conn = {
      id: `p${this.nextConnId++}`,
      control,
      // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: log them as the IPv4 address they are.
      remote: formatEndpoint({ address: normaliseAddress(socket.remoteAddress ?? '?'), port: socket.remotePort ?? 0 }),
      serverNonce: this.rt.random.bytes(NONCE_LENGTH),
      state: 'challenged',
      role: null,
      lastSeen: this.rt.scheduler.now(),
      lastPong: -Infinity,
      lastPing: -Infinity,
      since: null,
      name: null,
      unauthenticated: slot,
    };
    this.conns.set(conn.id, conn);
    const loginTimer = after(this.rt.scheduler, this.limits.loginTimeoutMs, () => {
      if (conn.state === 'challenged') control.close();
    });
    control.on('message', (m: ClientMessage) => {
      conn.lastSeen = this.rt.scheduler.now();
      this.onMessage(conn, m);
      this.flush();
    });
    control.on('invalid', (reason: string) => {
      this.counters.invalidFrames++;
      this.invalids.log('warn', 'invalid-frame', { peer: conn.id, remote: conn.remote, reason });
    });
    control.on('overflow', (o: WriterOverflow) => {
      this.counters.controlOverflows++;
      this.overflows.log('warn', 'peer-not-reading', {
        peer: conn.id,
        role: conn.role ?? undefined,
        remote: conn.remote,
        reason: o.reason === 'queue' ? `more than ${o.limit} bytes queued unsent` : `socket full for ${Math.round(o.stalledMs)} ms`,
        queuedBytes: o.queuedBytes,
      });
    });
    control.on('close', () => {
      loginTimer.cancel();
      this.onClose(conn);
    });
    control.send({ type: 'challenge', nonce: conn.serverNonce.toString('base64'), server: 'burrow-rendezvous' });
  }

  private onMessage(conn: Conn, m: ClientMessage): void {
    if (conn.state === 'challenged') {
      if (m.type === 'login') return this.onLogin(conn, m);
      if (m.type === 'relay-join') return this.onRelayJoin(conn, m);
      return this.refuse(conn, ControlErrorCode.NOT_LOGGED_IN, `"${m.type}" before login`);
    }
    if (conn.state !== 'peer') return;
    switch (m.type) {
      case 'ping':
        conn.lastPong = this.rt.scheduler.now();
        return conn.control.send({ type: 'pong', t: m.t });
      case 'pong': {
        const rtt = this.rt.scheduler.now() - m.t;
        if (rtt >= 0 && rtt < 60_000) this.setup.peerRtt(conn.id, rtt);
        return;
      }
      case 'refuse':
        // Counted as it comes: its visitor may be gone before it could be passed on (a wrong secret's visitor exits at once).
        if (conn.role === 'provider') this.traffic.refused(m.code);
        return this.setup.handle(conn.id, m, this.rt.scheduler.now());
      case 'offer': {
        if (conn.role === 'visitor' && this.bridge?.forward(conn.id, m) === true) return;
        this.setup.handle(conn.id, m, this.rt.scheduler.now());
        // After the broker took it (a side back on a new connection is a side again).
        const side = this.setup.sideOf(conn.id, m.connId);
        if (side !== null) this.reports.offer(conn.id, side, m.connId, m.nat);
        return;
      }
      case 'report':
        if (conn.role !== null) this.reports.report(conn.id, conn.role, m.sessions, this.rt.scheduler.now(), this.reportEveryMs !== null);
        return;
      case 'register':
        // In a cluster a provider's names are claimed in Redis first.
        if (conn.role === 'provider' && this.bridge !== null) return this.bridge.register(conn.id, m);
        return this.setup.handle(conn.id, m, this.rt.scheduler.now());
      case 'connect':
        // A service not served here may be on another node.
        if (conn.role === 'visitor' && this.bridge?.connect(conn.id, m) === true) return;
        return this.setup.handle(conn.id, m, this.rt.scheduler.now());
      case 'confirm':
        if (conn.role === 'visitor' && this.bridge?.forward(conn.id, m) === true) return;
        return this.setup.handle(conn.id, m, this.rt.scheduler.now());
      case 'accept':
        return this.setup.handle(conn.id, m, this.rt.scheduler.now());
      default:
        return this.refuse(conn, ControlErrorCode.PROTOCOL, `unexpected "${m.type}" after login`);
    }
  }

  private onLogin(conn: Conn, m: Extract<ClientMessage, { type: 'login' }>): void {
    const clientNonce = Buffer.from(m.nonce, 'base64');
    const expected = clientProof(this.opts.token, conn.serverNonce, clientNonce, m.role);
    if (!proofsEqual(Buffer.from(m.proof, 'base64'), expected)) {
      this.counters.loginsRefused++;
      this.refusals.log('warn', 'login-refused', { peer: conn.id, remote: conn.remote, reason: 'wrong token' });
      return this.refuse(conn, ControlErrorCode.BAD_TOKEN, 'the rendezvous token is wrong');
    }
    conn.state = 'peer';
    conn.role = m.role;
    conn.since = this.rt.scheduler.now();
    conn.name = m.name ?? null;
    conn.unauthenticated.release();
    this.setup.peerJoined(conn.id, m.role);
    conn.control.send({
      type: 'welcome',
      proof: serverProof(this.opts.token, conn.serverNonce, clientNonce, m.role).toString('base64'),
      peerId: peerIdWithCapabilities(conn.id, { reportEveryMs: this.reportEveryMs }),
    });
    this.log.info('peer-login', { peer: conn.id, role: m.role, remote: conn.remote, name: m.name });
    // A first round trip now, so a punch soon after login can be synchronised.
    conn.lastPing = this.rt.scheduler.now();
    conn.control.send({ type: 'ping', t: conn.lastPing });
  }

  private onRelayJoin(conn: Conn, m: Extract<ClientMessage, { type: 'relay-join' }>): void {
    if (this.setup.relayJoin(conn.id, m.connId, Buffer.from(m.ticket, 'base64'))) {
      conn.state = 'relay';
      conn.unauthenticated.release();
      return;
    }
    this.counters.loginsRefused++;
    this.refusals.log('warn', 'relay-join-refused', { peer: conn.id, remote: conn.remote });
  }

  /** Carries out what the core decided, then re-arms its wake-up. */
  private flush(): void {
    for (const o of this.setup.takeOutputs()) this.apply(o);
    const at = this.setup.nextDeadline();
    if (at === this.wakeup?.at) return;
    this.wakeup?.timer.cancel();
    this.wakeup =
      at === null
        ? null
        : {
            at,
            timer: this.rt.scheduler.at(at, () => {
              this.wakeup = null;
              this.setup.handleTimeout(this.rt.scheduler.now());
              this.flush();
            }),
          };
  }

  private apply(o: SetupOutput): void {
    switch (o.kind) {
      case 'send':
        if ((o.message.type === 'error' || o.message.type === 'connect-failed') && o.fromProvider !== true) this.traffic.refused(o.message.code);
        // Not one of our connections: a visitor on another node (or gone).
        if (!this.sendLocal(o.to, o.message)) this.bridge?.deliver(o.to, o.message);
        return;
      case 'refuse': {
        const c = this.conns.get(o.to);
        return c === undefined ? undefined : this.refuse(c, o.code, o.message);
      }
      case 'close':
        return this.conns.get(o.to)?.control.close();
      case 'splice':
        return this.splice(o);
      case 'log':
        return o.level === 'warn' ? this.setupWarnings.log(o.level, o.event, o.fields) : this.log.log(o.level, o.event, o.fields);
    }
  }

  private splice(o: Extract<SetupOutput, { kind: 'splice' }>): void {
    const a = this.conns.get(o.visitor);
    const b = this.conns.get(o.provider);
    const logEnd = (reason: string, bytesToProvider: number, bytesToVisitor: number) =>
      this.log.info('relay-end', { conn: o.connId.slice(0, 8), service: o.service, reason, bytesToProvider, bytesToVisitor });
    if (a === undefined || b === undefined) {
      // One side left while waiting for the other: the link ends before it starts.
      a?.control.close();
      b?.control.close();
      this.setup.relayEnded(o.link);
      return logEnd('closed', 0, 0);
    }
    this.controlQueuePeak = Math.max(this.controlQueuePeak, a.control.peakQueuedBytes, b.control.peakQueuedBytes);
    this.conns.delete(a.id);
    this.conns.delete(b.id);
    const tap = this.opts.tap;
    const live = handOverRelay(
      a.control,
      b.control,
      o.connId,
      { idleTimeoutMs: this.limits.relayIdleTimeoutMs, bytesPerSecond: this.limits.relayBytesPerSecond },
      this.rt.scheduler,
      (r) => {
        this.setup.relayEnded(o.link);
        this.traffic.relayEnded(r);
        this.counters.relayBytes += r.bytesAtoB + r.bytesBtoA;
        logEnd(r.reason, r.bytesAtoB, r.bytesBtoA);
      },
      tap ? (bytes: Buffer) => tap('out', bytes) : undefined,
    );
    this.traffic.relayStarted(live);
  }

  /** Writes to one of this node's connections; false if there is none by that id. */
  private sendLocal(peer: PeerId, message: ServerMessage): boolean {
    const c = this.conns.get(peer);
    if (c === undefined) return false;
    c.control.send(message);
    return true;
  }

  /** A fatal error: the message goes out, then the connection ends. */
  private refuse(conn: Conn, code: ControlErrorCode, message: string): void {
    this.traffic.refused(code);
    conn.control.send({ type: 'error', code, message, fatal: true });
    conn.control.socket.end(() => conn.control.close());
  }

  private onClose(conn: Conn): void {
    conn.unauthenticated.release();
    this.controlQueuePeak = Math.max(this.controlQueuePeak, conn.control.peakQueuedBytes);
    if (!this.conns.delete(conn.id)) return;
    this.reports.peerGone(conn.id);
    const names = this.setup.peerGone(conn.id, this.rt.scheduler.now());
    this.bridge?.localPeerGone(conn.id, names);
    this.flush();
  }

  private onHeartbeat(): void {
    const now = this.rt.scheduler.now();
    // A Map may lose entries while iterated (a dropped peer's close deletes it).
    for (const conn of this.conns.values()) {
      if (conn.state !== 'peer') continue;
      const action = heartbeatAction(conn, now, this.beat);
      if (action === 'drop') {
        this.log.warn('peer-timeout', { peer: conn.id, role: conn.role ?? undefined });
        conn.control.close();
      } else if (action === 'ping') {
        conn.lastPing = now;
        // Peers echo t unread; the scheduler's clock keeps virtual runs repeatable.
        conn.control.send({ type: 'ping', t: Math.round(now) });
      }
    }
  }
}

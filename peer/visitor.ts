import { EventEmitter } from 'node:events';
import { after, type TimerHandle } from '../src/clock/scheduler.js';
import { ControlErrorCode, type ServerMessage } from '../src/control/index.js';
import { BurrowError, isBurrowError } from '../src/errors.js';
import { aeadPreference, type AeadAlgorithm } from '../src/crypto/index.js';
import { HandshakeInitiator } from '../src/handshake/index.js';
import type { Logger } from '../src/log/logger.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import type { StreamAddress, StreamServer, StreamSocket } from '../src/net/stream-transport.js';
import type { TunnelSession } from '../src/session/index.js';
import { Backoff } from './backoff.js';
import { bridge } from './bridge.js';
import { ControlClient } from './control-client.js';
import { formatHostPort, parseHostPort, type HostPort } from './endpoint-arg.js';
import type { SessionTuning } from './tunnel-options.js';
import type { DirectConfig } from './direct-setup.js';
import { PEER_DEFAULTS, type PeerMode, type RelayPolicy } from './peer-defaults.js';
import { planSession, type SessionPlan } from './session-plan.js';
import { SessionSetup } from './session-setup.js';
import { PeerCounters } from './peer-counters.js';
import type { SessionView } from './session-view.js';
import { SessionReporter } from './session-reporter.js';
import { udpSummary } from './udp/session-flows.js';
import { VisitorUdp } from './udp/visitor-udp.js';
import { DEFAULT_UDP_SETTINGS, type ServiceProto, type UdpSettings } from './udp/udp-settings.js';

/**
 * `transport` (rendezvous connections and the local listener), `scheduler`,
 * `random` and `udp` (unused until the direct path lands) default to the real ones.
 */
export interface VisitorOptions extends RuntimeOptions {
  /** What this peer offers to seal with. Default aeadPreference() (AES-256-GCM with AES instructions, else ChaCha20-Poly1305; BURROW_AEAD overrides). */
  aead?: AeadAlgorithm;
  /** xtcp (default): punch a direct path, relay meanwhile (and as fallback); stcp: relay only. */
  mode?: PeerMode;
  /** xtcp only: 'fallback' (default) carries traffic over the relay until and unless the direct path works; 'never' uses no relay. */
  relay?: RelayPolicy;
  direct?: DirectConfig;
  /** The rendezvous, or several nodes of it (the next is used when one fails). */
  server: HostPort | readonly HostPort[];
  token: string;
  service: string;
  secret: string;
  /** Where local applications connect (TCP) or send (UDP), e.g. 127.0.0.1:5000. */
  listen: HostPort;
  /** TCP (default): a local TCP port, each connection a stream; UDP: a local UDP port, each client address:port a flow of datagrams. */
  proto?: ServiceProto;
  /** UDP only: flow idle time and cap per session (default DEFAULT_UDP_SETTINGS). */
  udpFlows?: UdpSettings;
  logger: Logger;
  session?: SessionTuning;
  /** TCP connections that may wait for a session at once, and for how long. */
  maxWaiting?: number;
  waitTimeoutMs?: number;
}

interface Waiting {
  socket: StreamSocket;
  timer: TimerHandle;
}

/** The handshake in flight (connect sent, waiting for the provider's reply). */
interface PendingHandshake {
  connId: string;
  initiator: HandshakeInitiator;
}

/**
 * The visitor peer: listens locally and carries each accepted TCP connection
 * as a stream of one end-to-end encrypted session with the provider. The
 * session is set up at start (so a wrong secret is reported at once) and set
 * up again whenever it ends.
 *
 * Events: 'listening' (AddressInfo), 'session' (TunnelSession), 'fatal' (BurrowError).
 */
export class Visitor extends EventEmitter {
  private readonly control: ControlClient;
  private readonly reporter: SessionReporter;
  private readonly server: StreamServer;
  /** The UDP side, for a UDP service (null for TCP). */
  private readonly udp: VisitorUdp | null;
  private readonly rt: Runtime;
  private readonly mode: PeerMode;
  private readonly aead: AeadAlgorithm;
  /** Relay, direct, or both: the same for every session of this visitor. */
  private readonly plan: SessionPlan;
  /** The current session's wiring (its direct side, how its direct path reaches the provider). */
  private current: SessionSetup | null = null;
  private readonly log: Logger;
  private session: TunnelSession | null = null;
  private handshake: PendingHandshake | null = null;
  private readonly waiting = new Set<Waiting>();
  private readonly backoff: Backoff;
  private retryTimer: TimerHandle | null = null;
  private stopped = false;
  private connections = 0;
  /** Counts across sessions, for metrics. */
  readonly counters = new PeerCounters();

  constructor(private readonly opts: VisitorOptions) {
    super();
    this.rt = resolveRuntime(opts);
    this.mode = opts.mode ?? PEER_DEFAULTS.mode;
    this.aead = opts.aead ?? aeadPreference();
    this.plan = planSession('initiator', { mode: this.mode, relay: opts.relay ?? PEER_DEFAULTS.relay }, true);
    this.log = opts.logger;
    this.backoff = new Backoff(500, 10_000, () => this.rt.random.next());
    this.control = new ControlClient({ server: opts.server, token: opts.token, role: 'visitor', logger: this.log, ...this.rt });
    this.reporter = new SessionReporter(this.control, () => this.sessionViews(), this.rt.scheduler);
    this.control.on('up', () => {
      this.reporter.onUp();
      this.ensureSession();
    });
    this.control.on('down', () => {
      // A setup in flight died with the control connection; the session itself lives on its own link.
      this.handshake = null;
    });
    this.control.on('message', (m: ServerMessage) => this.onMessage(m));
    this.control.on('fatal', (err: BurrowError) => this.fail(err));
    this.server = this.rt.transport.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.onConnection(socket));
    this.udp =
      opts.proto === 'udp'
        ? new VisitorUdp({
            listen: opts.listen,
            settings: opts.udpFlows ?? DEFAULT_UDP_SETTINGS,
            scheduler: this.rt.scheduler,
            logger: this.log,
            counters: this.counters.udp,
            ...(this.rt.lookup ? { lookup: this.rt.lookup } : {}),
          })
        : null;
  }

  async start(): Promise<StreamAddress> {
    if (this.udp !== null) {
      const local = await this.udp.start();
      const addr: StreamAddress = { address: local.address, port: local.port, family: local.address.includes(':') ? 'IPv6' : 'IPv4' };
      this.log.info('listening', { listen: `${addr.address}:${addr.port}`, proto: 'udp', service: this.opts.service, mode: this.mode });
      this.control.start();
      this.emit('listening', addr);
      return addr;
    }
    let addr: StreamAddress;
    try {
      addr = await this.server.listen(this.opts.listen.port, this.opts.listen.host);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new BurrowError('ERR_INVALID_ARGUMENT', `cannot listen on ${formatHostPort(this.opts.listen)}: ${e.code ?? e.message}`);
    }
    this.log.info('listening', { listen: `${addr.address}:${addr.port}`, service: this.opts.service, mode: this.mode });
    this.control.start();
    this.emit('listening', addr);
    return addr;
  }

  /** Resolves once the local listener has closed. */
  stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.reporter.stop();
    this.control.stop();
    if (this.udp !== null) {
      // The session first: its closing line carries the flows' counts.
      this.session?.close();
      this.udp.stop();
      return Promise.resolve();
    }
    // Stopping must not throw; a listener that cannot close says so in the log.
    const closed = this.server.close().catch((err: unknown) => this.log.warn('listener-close-failed', { error: err instanceof Error ? err.message : String(err) }));
    for (const w of this.waiting) this.dropWaiting(w, true);
    this.session?.close();
    return closed;
  }

  get currentSession(): TunnelSession | null {
    return this.session;
  }

  /** The session running now, with its wiring (for metrics): none or one. */
  sessionViews(): SessionView[] {
    const session = this.session;
    const setup = this.current;
    if (session === null || setup === null || session.closed) return [];
    const udp = this.udp?.view(session) ?? null;
    return [udp !== null ? { service: this.opts.service, session, setup, udp } : { service: this.opts.service, session, setup }];
  }

  private onConnection(socket: StreamSocket): void {
    socket.on('error', () => {});
    const session = this.session;
    // With --relay never, connections wait until the direct path is up.
    if (session !== null && !session.closed && session.currentPath !== null) return this.carry(socket, session);
    if (this.waiting.size >= (this.opts.maxWaiting ?? PEER_DEFAULTS.maxWaiting)) {
      this.log.warn('connection-refused', { reason: 'too many connections waiting for the tunnel' });
      socket.resetAndDestroy();
      return;
    }
    // Hold the connection (unread) until the session is up.
    socket.pause();
    const w: Waiting = {
      socket,
      timer: after(
        this.rt.scheduler,
        this.opts.waitTimeoutMs ?? PEER_DEFAULTS.waitTimeoutMs,
        () => {
          this.log.warn('connection-dropped', { reason: 'no tunnel to the provider within the wait time' });
          this.dropWaiting(w, true);
        },
        { keepAlive: true },
      ),
    };
    this.waiting.add(w);
    socket.once('close', () => this.dropWaiting(w, false));
    this.ensureSession();
  }

  private carry(socket: StreamSocket, session: TunnelSession): void {
    let stream;
    try {
      stream = session.openStream();
    } catch (err) {
      // Too many streams, or the session is going away: refuse this one connection.
      this.log.warn('connection-refused', { reason: err instanceof Error ? err.message : String(err) });
      socket.resetAndDestroy();
      return;
    }
    const id = ++this.connections;
    const kind = session.currentPath?.kind;
    const path = kind === 'direct' ? (this.current?.directKind ?? 'direct') : (kind ?? 'none');
    const why = this.mode === 'stcp' ? 'stcp mode: relay only' : kind === 'direct' ? undefined : this.current?.direct?.status;
    this.log.info('connection', { id, from: `${socket.remoteAddress}:${socket.remotePort}`, stream: stream.id, path, why });
    bridge(socket, stream, (err) => {
      this.log.debug('connection-closed', { id, error: err?.message });
    });
    socket.resume();
  }

  private dropWaiting(w: Waiting, reset: boolean): void {
    if (!this.waiting.delete(w)) return;
    w.timer.cancel();
    if (reset && !w.socket.destroyed) w.socket.resetAndDestroy();
  }

  private ensureSession(): void {
    if (this.stopped || this.handshake !== null || this.retryTimer !== null) return;
    if (this.session !== null && !this.session.closed) return;
    if (!this.control.isUp) return; // 'up' will call again
    const connId = this.rt.random.bytes(16).toString('hex');
    const initiator = new HandshakeInitiator(
      { secret: this.opts.secret, service: this.opts.service, randomBytes: (n) => this.rt.random.bytes(n), aead: this.aead },
      Buffer.from(connId, 'hex'),
    );
    this.handshake = { connId, initiator };
    this.control.send({
      type: 'connect',
      connId,
      service: this.opts.service,
      hello: initiator.hello().toString('base64'),
      ...(this.opts.proto === 'udp' ? { proto: 'udp' as const } : {}),
    });
  }

  private onMessage(m: ServerMessage): void {
    const hs = this.handshake;
    if (m.type === 'error') {
      this.log.error('rendezvous-error', { code: m.code, error: m.message });
      return;
    }
    if ((m.type === 'punch' || m.type === 'punch-request') && m.connId === this.current?.connId) {
      this.current.onControl(m);
      return;
    }
    if (hs === null || !('connId' in m) || m.connId !== hs.connId) return;
    if (m.type === 'connect-failed') {
      this.handshake = null;
      if (m.code === ControlErrorCode.SECRET_MISMATCH) return; // already reported from the reply
      // Asking again cannot help: the two sides are configured for different protocols.
      if (m.code === ControlErrorCode.PROTO_MISMATCH) return this.fail(new BurrowError('ERR_CONFIG', `the provider refused: ${m.message}`));
      this.log.warn('connect-failed', { service: this.opts.service, code: m.code, error: m.message });
      return this.retryLater();
    }
    if (m.type === 'reply') {
      const { confirm, result } = hs.initiator.onReply(Buffer.from(m.reply, 'base64'));
      // Confirm even on failure, so the provider learns of the mismatch and logs it.
      this.control.send({
        type: 'confirm',
        connId: hs.connId,
        confirm: confirm.toString('base64'),
        ...(this.plan.direct ? { direct: true } : {}),
      });
      if (result instanceof BurrowError) {
        this.handshake = null;
        if (result.code === 'ERR_HANDSHAKE_SECRET_MISMATCH') return this.fail(result);
        this.log.warn('handshake-failed', { error: result.message });
        return this.retryLater();
      }
      this.handshake = null;
      this.startSession(hs.connId, result.sessionKey, result.aead, m.ticket, this.relayServerOf(m.relay));
    }
  }

  /** The handshake is done: the shared wiring runs the rest (session, relay, direct, ready). */
  /** The node a cluster's rendezvous sends the relay link to (the provider's), or undefined: the control channel's. */
  private relayServerOf(relay: string | undefined): HostPort | undefined {
    if (relay === undefined) return undefined;
    try {
      return parseHostPort(relay, 'relay');
    } catch {
      this.log.warn('relay-address-invalid', { relay: relay.slice(0, 80), note: 'the relay link goes to this rendezvous instead' });
      return undefined;
    }
  }

  private startSession(connId: string, sessionKey: Buffer, aead: AeadAlgorithm, ticket: string, relayServer: HostPort | undefined): void {
    const log = this.log.child({ service: this.opts.service, conn: connId.slice(0, 8) });
    const setup: SessionSetup = new SessionSetup({
      role: 'initiator',
      connId,
      sessionKey,
      aead,
      ticket,
      plan: this.plan,
      server: this.control.server,
      relayServer,
      runtime: this.rt,
      tuning: this.opts.session,
      direct: this.opts.direct,
      control: this.control,
      logger: log,
      stopped: () => this.stopped,
      counters: this.counters,
      events: {
        session: (session) => {
          this.session = session;
          this.current = setup;
          session.on('close', (err?: BurrowError) => this.onSessionClosed(setup, session, log, err));
          // After the close listener above: its session-closed line still finds the flows' counts.
          this.udp?.attach(session, log);
        },
        ready: (session) => {
          this.backoff.reset();
          this.emit('session', session);
          if (session.currentPath !== null) this.releaseWaiting(session);
        },
        // Connections that waited for a path (relay never) can go now.
        directUp: (session) => this.releaseWaiting(session),
        failed: (err) => {
          if (err.code === 'ERR_CONFIG') this.fail(err);
          else this.retryLater();
        },
      },
    });
    setup.start();
  }

  private onSessionClosed(setup: SessionSetup, session: TunnelSession, log: Logger, err: BurrowError | undefined): void {
    if (this.current === setup) this.current = null;
    if (this.session === session) this.session = null;
    log.warn('session-closed', { reason: err?.message ?? 'closed', ...udpSummary(this.udp?.view(session)) });
    if (this.stopped) return;
    if (err?.code === 'ERR_CONNECT_FAILED') this.retryLater();
    else this.ensureSession();
  }

  private releaseWaiting(session: TunnelSession): void {
    for (const w of [...this.waiting]) {
      this.waiting.delete(w);
      w.timer.cancel();
      if (!w.socket.destroyed) this.carry(w.socket, session);
    }
  }

  private retryLater(): void {
    if (this.stopped || this.retryTimer !== null) return;
    const delay = this.backoff.next();
    this.retryTimer = after(
      this.rt.scheduler,
      delay,
      () => {
        this.retryTimer = null;
        this.ensureSession();
      },
      { keepAlive: true },
    );
  }

  private fail(err: BurrowError): void {
    this.log.error(isBurrowError(err, 'ERR_HANDSHAKE_SECRET_MISMATCH') ? 'secret-mismatch' : 'fatal', {
      service: this.opts.service,
      error: err.message,
    });
    for (const w of [...this.waiting]) this.dropWaiting(w, true);
    this.emit('fatal', err);
  }
}

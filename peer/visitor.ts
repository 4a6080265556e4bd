import { EventEmitter } from 'node:events';
import { after, type TimerHandle } from '../src/clock/scheduler.js';
import { ControlErrorCode, type ServerMessage } from '../src/control/index.js';
import { deriveSessionKeys } from '../src/crypto/index.js';
import { BurrowError, isBurrowError } from '../src/errors.js';
import { HandshakeInitiator } from '../src/handshake/index.js';
import type { Logger } from '../src/log/logger.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import type { StreamAddress, StreamServer, StreamSocket } from '../src/net/stream-transport.js';
import { TunnelSession } from '../src/session/index.js';
import { Backoff } from './backoff.js';
import { bridge } from './bridge.js';
import { ControlClient } from './control-client.js';
import { formatHostPort, type HostPort } from './endpoint-arg.js';
import { openRelayLink } from './relay-connector.js';
import { sessionTuning, type SessionTuning } from './tunnel-options.js';
import type { DirectLink } from './direct-link.js';
import { createDirectLink, type DirectConfig } from './direct-setup.js';
import { describeCandidate, type LockedEndpoint } from '../src/punch/index.js';

/**
 * `transport` (rendezvous connections and the local listener), `scheduler`,
 * `random` and `udp` (unused until the direct path lands) default to the real ones.
 */
export interface VisitorOptions extends RuntimeOptions {
  /** xtcp: punch a direct path, relay meanwhile (and as fallback); stcp: relay only. Default stcp. */
  mode?: 'xtcp' | 'stcp';
  /** xtcp only: 'fallback' (default) carries traffic over the relay until and unless the direct path works; 'never' uses no relay. */
  relay?: 'fallback' | 'never';
  direct?: DirectConfig;
  server: HostPort;
  token: string;
  service: string;
  secret: string;
  /** Where local applications connect, e.g. 127.0.0.1:5000. */
  listen: HostPort;
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

interface Setup {
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
  private readonly server: StreamServer;
  private readonly rt: Runtime;
  private readonly mode: 'xtcp' | 'stcp';
  private direct: DirectLink | null = null;
  private directConnId: string | null = null;
  /** How the current direct path reaches the provider ('direct LAN' / 'direct internet'). */
  private directKind: string | null = null;
  private readonly log: Logger;
  private session: TunnelSession | null = null;
  private setup: Setup | null = null;
  private readonly waiting = new Set<Waiting>();
  private readonly backoff: Backoff;
  private retryTimer: TimerHandle | null = null;
  private stopped = false;
  private connections = 0;

  constructor(private readonly opts: VisitorOptions) {
    super();
    this.rt = resolveRuntime(opts);
    this.mode = opts.mode ?? 'stcp';
    this.log = opts.logger;
    this.backoff = new Backoff(500, 10_000, () => this.rt.random.next());
    this.control = new ControlClient({ server: opts.server, token: opts.token, role: 'visitor', logger: this.log, ...this.rt });
    this.control.on('up', () => this.ensureSession());
    this.control.on('down', () => {
      // A setup in flight died with the control connection; the session itself lives on its own link.
      this.setup = null;
    });
    this.control.on('message', (m: ServerMessage) => this.onMessage(m));
    this.control.on('fatal', (err: BurrowError) => this.fail(err));
    this.server = this.rt.transport.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.onConnection(socket));
  }

  async start(): Promise<StreamAddress> {
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

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.control.stop();
    void this.server.close();
    for (const w of this.waiting) this.dropWaiting(w, true);
    this.session?.close();
  }

  get currentSession(): TunnelSession | null {
    return this.session;
  }

  private onConnection(socket: StreamSocket): void {
    socket.on('error', () => {});
    const session = this.session;
    // With --relay never, connections wait until the direct path is up.
    if (session !== null && !session.closed && session.currentPath !== null) return this.carry(socket, session);
    if (this.waiting.size >= (this.opts.maxWaiting ?? 256)) {
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
        this.opts.waitTimeoutMs ?? 15_000,
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
    const path = kind === 'direct' ? (this.directKind ?? 'direct') : (kind ?? 'none');
    const why = this.mode === 'stcp' ? 'stcp mode: relay only' : kind === 'direct' ? undefined : this.direct?.status;
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
    if (this.stopped || this.setup !== null || this.retryTimer !== null) return;
    if (this.session !== null && !this.session.closed) return;
    if (!this.control.isUp) return; // 'up' will call again
    const connId = this.rt.random.bytes(16).toString('hex');
    const initiator = new HandshakeInitiator(
      { secret: this.opts.secret, service: this.opts.service, randomBytes: (n) => this.rt.random.bytes(n) },
      Buffer.from(connId, 'hex'),
    );
    this.setup = { connId, initiator };
    this.control.send({ type: 'connect', connId, service: this.opts.service, hello: initiator.hello().toString('base64') });
  }

  private onMessage(m: ServerMessage): void {
    const setup = this.setup;
    if (m.type === 'error') {
      this.log.error('rendezvous-error', { code: m.code, error: m.message });
      return;
    }
    if ((m.type === 'punch' || m.type === 'punch-request') && this.direct !== null && m.connId === this.directConnId) {
      this.direct.onControl(m);
      return;
    }
    if (setup === null || !('connId' in m) || m.connId !== setup.connId) return;
    if (m.type === 'connect-failed') {
      this.setup = null;
      if (m.code === ControlErrorCode.SECRET_MISMATCH) return; // already reported from the reply
      this.log.warn('connect-failed', { service: this.opts.service, code: m.code, error: m.message });
      return this.retryLater();
    }
    if (m.type === 'reply') {
      const { confirm, result } = setup.initiator.onReply(Buffer.from(m.reply, 'base64'));
      // Confirm even on failure, so the provider learns of the mismatch and logs it.
      this.control.send({
        type: 'confirm',
        connId: setup.connId,
        confirm: confirm.toString('base64'),
        ...(this.mode === 'xtcp' ? { direct: true } : {}),
      });
      if (result instanceof BurrowError) {
        this.setup = null;
        if (result.code === 'ERR_HANDSHAKE_SECRET_MISMATCH') return this.fail(result);
        this.log.warn('handshake-failed', { error: result.message });
        return this.retryLater();
      }
      void this.openSession(setup.connId, result.sessionKey, m.ticket);
    }
  }

  private async openSession(connId: string, sessionKey: Buffer, ticket: string): Promise<void> {
    const log = this.log.child({ service: this.opts.service, conn: connId.slice(0, 8) });
    const xtcp = this.mode === 'xtcp';
    const useRelay = !xtcp || this.opts.relay !== 'never';
    let link = null;
    if (useRelay) {
      try {
        link = await openRelayLink(this.opts.server, connId, ticket, undefined, this.rt);
      } catch (err) {
        this.setup = null;
        log.warn('relay-failed', { error: err instanceof Error ? err.message : String(err) });
        if (!xtcp) return this.retryLater();
        link = null;
      }
    }
    this.setup = null;
    if (this.stopped) return link?.close();
    const session = new TunnelSession({
      ...sessionTuning(xtcp ? 'xtcp' : 'stcp', this.opts.session),
      keys: deriveSessionKeys(sessionKey, 'initiator', connId),
      role: 'initiator',
      scheduler: this.rt.scheduler,
    });
    this.session = session;
    let direct: DirectLink | null = null;
    if (xtcp) {
      direct = await createDirectLink({
        connId,
        role: 'initiator',
        sessionKey,
        session,
        runtime: this.rt,
        server: this.opts.server,
        config: this.opts.direct ?? {},
        sendControl: (msg) => this.control.send(msg),
        logger: log,
      });
      if (session.closed || this.stopped) return direct.close();
      this.direct = direct;
      this.directConnId = connId;
      direct.relay = link;
      direct.on('direct', (_path, locked: LockedEndpoint) => {
        this.directKind = describeCandidate({ kind: locked.kind, ...locked.remote });
        // Connections that waited for a path (relay never) can go now.
        this.releaseWaiting(session);
      });
      direct.on('lost', () => (this.directKind = null));
      direct.on('failed', (reason: string) => {
        if (link === null && session.currentPath === null) {
          session.close(new BurrowError('ERR_CONNECT_FAILED', `no direct path to the provider and --relay never: ${reason}`));
        }
      });
    }
    if (link !== null) {
      const relay = link;
      relay.bind(session.receive);
      session.setPath(relay);
      log.info('session-up', { path: 'relay', via: relay.label, mode: this.mode });
      relay.whenClosed(() => {
        if (session.closed) return;
        if (direct !== null) {
          // xtcp: the direct path (now or after a fresh punch) carries on without the relay.
          direct.relayLost((reason) => session.close(new BurrowError('ERR_SESSION_CLOSED', reason)));
          return;
        }
        session.close(new BurrowError('ERR_SESSION_CLOSED', 'relay link closed'));
      });
    } else {
      log.info('session-up', { path: 'none yet', mode: this.mode, relay: 'never' });
    }
    this.backoff.reset();
    session.on('path', (path: { kind: string; label: string }) => log.info('path', { path: path.kind === 'direct' ? (this.directKind ?? 'direct') : path.kind, via: path.label }));
    session.on('close', (err?: BurrowError) => {
      link?.close();
      direct?.close();
      if (this.direct === direct) {
        this.direct = null;
        this.directConnId = null;
        this.directKind = null;
      }
      if (this.session === session) this.session = null;
      log.warn('session-closed', { reason: err?.message ?? 'closed' });
      if (!this.stopped) {
        if (err?.code === 'ERR_CONNECT_FAILED') this.retryLater();
        else this.ensureSession();
      }
    });
    this.emit('session', session);
    direct?.start();
    if (link !== null) this.releaseWaiting(session);
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

import { EventEmitter } from 'node:events';
import { after, type TimerHandle } from '../src/clock/scheduler.js';
import { ControlErrorCode, type ServerMessage } from '../src/control/index.js';
import { deriveSessionKeys } from '../src/crypto/index.js';
import { BurrowError, isBurrowError } from '../src/errors.js';
import { HandshakeResponder } from '../src/handshake/index.js';
import { RateLimitedLog, type Logger } from '../src/log/logger.js';
import type { MuxStream } from '../src/mux/index.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import { TunnelSession } from '../src/session/index.js';
import { bridge } from './bridge.js';
import { ControlClient } from './control-client.js';
import { formatHostPort, type HostPort } from './endpoint-arg.js';
import { openRelayLink } from './relay-connector.js';
import { sessionTuning, type SessionTuning } from './tunnel-options.js';
import type { DirectLink } from './direct-link.js';
import { createDirectLink, type DirectConfig } from './direct-setup.js';
import type { RelayLink } from '../src/path/relay-link.js';

export interface ProvidedService {
  name: string;
  secret: string;
  /** The local TCP service visitors reach, e.g. the NAS at 192.168.1.10:5000. */
  target: HostPort;
}

/**
 * `transport` (rendezvous and target connections), `scheduler`, `random`
 * and `udp` (unused until the direct path lands) default to the real ones.
 */
export interface ProviderOptions extends RuntimeOptions {
  /** xtcp (default): visitors that ask may punch a direct path; stcp: relay only. */
  mode?: 'xtcp' | 'stcp';
  direct?: DirectConfig;
  server: HostPort;
  token: string;
  services: ProvidedService[];
  logger: Logger;
  session?: SessionTuning;
  /** Handshakes in progress at once; more are refused (a flood must not grow memory). */
  maxPendingHandshakes?: number;
  maxSessions?: number;
}

/** How often a provider whose name is taken asks again. */
const REREGISTER_MS = 10_000;

interface PendingHandshake {
  responder: HandshakeResponder;
  service: ProvidedService;
  timer: TimerHandle;
}

/**
 * The provider peer: registers its services with the rendezvous and, for
 * each visitor that proves it holds a service's secret, runs a tunnel
 * session whose streams it connects to that service's local target.
 */
export class Provider extends EventEmitter {
  private readonly control: ControlClient;
  private readonly services: Map<string, ProvidedService>;
  private readonly handshakes = new Map<string, PendingHandshake>();
  private readonly sessions = new Set<TunnelSession>();
  private readonly directs = new Map<string, DirectLink>();
  private readonly refusals: RateLimitedLog;
  private readonly log: Logger;
  private readonly rt: Runtime;
  private registerTimer: TimerHandle | null = null;

  constructor(private readonly opts: ProviderOptions) {
    super();
    this.rt = resolveRuntime(opts);
    this.log = opts.logger;
    this.services = new Map(opts.services.map((s) => [s.name, s]));
    this.refusals = new RateLimitedLog(this.log, undefined, undefined, () => this.rt.scheduler.now());
    this.control = new ControlClient({ server: opts.server, token: opts.token, role: 'provider', logger: this.log, ...this.rt });
    this.control.on('up', () => this.register());
    this.control.on('message', (m: ServerMessage) => this.onMessage(m));
    this.control.on('fatal', (err: BurrowError) => {
      this.log.error('fatal', { code: err.code, error: err.message });
      this.emit('fatal', err);
    });
  }

  start(): void {
    this.control.start();
  }

  stop(): void {
    this.registerTimer?.cancel();
    this.control.stop();
    for (const h of this.handshakes.values()) h.timer.cancel();
    this.handshakes.clear();
    for (const s of this.sessions) s.close();
  }

  private register(): void {
    this.registerTimer?.cancel();
    this.registerTimer = null;
    this.control.send({ type: 'register', services: [...this.services.keys()] });
  }

  private scheduleRegister(): void {
    if (this.registerTimer) return;
    this.registerTimer = after(this.rt.scheduler, REREGISTER_MS, () => this.register(), { keepAlive: true });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private onMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'registered':
        this.log.info('registered', { services: m.services.join(',') });
        this.emit('registered', m.services);
        return;
      case 'error':
        this.log.error('rendezvous-error', { code: m.code, error: m.message });
        if (m.code === ControlErrorCode.NAME_TAKEN) {
          this.emit('name-taken', m.message);
          // The holder may be a stale registration of ours (a restart before the
          // rendezvous noticed the old connection die): try again a little later.
          this.scheduleRegister();
        }
        return;
      case 'incoming':
        return this.onIncoming(m.connId, m.service, m.hello);
      case 'confirm':
        return this.onConfirm(m.connId, m.confirm, m.ticket, m.direct === true);
      case 'punch':
      case 'punch-request':
        return this.directs.get(m.connId)?.onControl(m);
      default:
        return;
    }
  }

  private refuse(connId: string, code: ControlErrorCode, message: string): void {
    this.control.send({ type: 'refuse', connId, code, message });
  }

  private onIncoming(connId: string, name: string, helloB64: string): void {
    const service = this.services.get(name);
    if (service === undefined) return this.refuse(connId, ControlErrorCode.NO_SUCH_SERVICE, `this provider does not serve "${name}"`);
    if (this.handshakes.size >= (this.opts.maxPendingHandshakes ?? 64)) {
      this.refusals.log('warn', 'visitor-refused', { service: name, reason: 'too many handshakes in progress' });
      return this.refuse(connId, ControlErrorCode.BUSY, 'the provider is busy; try again');
    }
    if (this.sessions.size >= (this.opts.maxSessions ?? 1024)) return this.refuse(connId, ControlErrorCode.BUSY, 'the provider has too many sessions');
    const responder = new HandshakeResponder({ secret: service.secret, service: name, randomBytes: (n) => this.rt.random.bytes(n) });
    let reply: Buffer;
    try {
      reply = responder.onHello(Buffer.from(helloB64, 'base64'));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.refusals.log('warn', 'visitor-refused', { service: name, reason: message });
      return this.refuse(connId, ControlErrorCode.HANDSHAKE, message);
    }
    const timer = after(this.rt.scheduler, 30_000, () => this.handshakes.delete(connId));
    this.handshakes.set(connId, { responder, service, timer });
    this.control.send({ type: 'accept', connId, reply: reply.toString('base64') });
  }

  private onConfirm(connId: string, confirmB64: string, ticket: string, direct: boolean): void {
    const h = this.handshakes.get(connId);
    if (h === undefined) return;
    this.handshakes.delete(connId);
    h.timer.cancel();
    let sessionKey: Buffer;
    try {
      sessionKey = h.responder.onConfirm(Buffer.from(confirmB64, 'base64')).sessionKey;
    } catch (err) {
      const mismatch = isBurrowError(err, 'ERR_HANDSHAKE_SECRET_MISMATCH');
      this.refusals.log('warn', 'visitor-refused', {
        service: h.service.name,
        conn: connId.slice(0, 8),
        reason: mismatch ? 'the visitor does not know the service secret' : String(err),
      });
      return this.refuse(connId, mismatch ? ControlErrorCode.SECRET_MISMATCH : ControlErrorCode.HANDSHAKE, 'the service secret does not match');
    }
    void this.startSession(connId, h.service, sessionKey, ticket, direct);
  }

  private async startSession(connId: string, service: ProvidedService, sessionKey: Buffer, ticket: string, wantsDirect: boolean): Promise<void> {
    const log = this.log.child({ service: service.name, conn: connId.slice(0, 8) });
    const allowDirect = (this.opts.mode ?? 'xtcp') === 'xtcp';
    if (wantsDirect && !allowDirect) {
      this.control.send({ type: 'offer', connId, attempt: 0, candidates: [], reason: 'the provider allows the relay only (stcp mode)' });
    }
    const xtcp = wantsDirect && allowDirect;
    if (!xtcp) {
      // stcp: the session lives on the relay link alone.
      let link: RelayLink;
      try {
        link = await openRelayLink(this.opts.server, connId, ticket, undefined, this.rt);
      } catch (err) {
        log.warn('relay-failed', { error: err instanceof Error ? err.message : String(err) });
        return;
      }
      const session = this.newSession(connId, service, sessionKey, 'stcp', log);
      link.bind(session.receive);
      session.setPath(link);
      log.info('session-up', { path: 'relay' });
      link.whenClosed(() => {
        if (!session.closed) session.close(new BurrowError('ERR_SESSION_CLOSED', 'relay link closed'));
      });
      session.on('close', () => link.close());
      return;
    }
    // xtcp: the session exists at once; the relay joins when it can (the
    // visitor may use none), the punch runs alongside.
    const session = this.newSession(connId, service, sessionKey, 'xtcp', log);
    const direct = await createDirectLink({
      connId,
      role: 'responder',
      sessionKey,
      session,
      runtime: this.rt,
      server: this.opts.server,
      config: this.opts.direct ?? {},
      sendControl: (msg) => this.control.send(msg),
      logger: log,
    });
    if (session.closed) return direct.close();
    this.directs.set(connId, direct);
    session.on('close', () => {
      direct.close();
      this.directs.delete(connId);
    });
    direct.start();
    log.info('session-up', { path: 'pending', mode: 'xtcp' });
    let link: RelayLink;
    try {
      link = await openRelayLink(this.opts.server, connId, ticket, undefined, this.rt);
    } catch (err) {
      log.info('relay-unavailable', { error: err instanceof Error ? err.message : String(err), note: 'direct path only' });
      return;
    }
    if (session.closed) return link.close();
    link.bind(session.receive);
    direct.relay = link;
    if (session.currentPath === null) session.setPath(link);
    session.on('close', () => link.close());
    link.whenClosed(() => {
      if (session.closed) return;
      // The direct path (now or after the visitor's fresh punch) carries on without the relay.
      direct.relayLost((reason) => session.close(new BurrowError('ERR_SESSION_CLOSED', reason)));
    });
  }

  private newSession(connId: string, service: ProvidedService, sessionKey: Buffer, mode: 'stcp' | 'xtcp', log: Logger): TunnelSession {
    const session = new TunnelSession({
      ...sessionTuning(mode, this.opts.session),
      keys: deriveSessionKeys(sessionKey, 'responder', connId),
      role: 'responder',
      scheduler: this.rt.scheduler,
    });
    this.sessions.add(session);
    session.on('close', (err?: BurrowError) => {
      this.sessions.delete(session);
      log.info('session-closed', { reason: err?.message ?? 'closed' });
    });
    session.on('path', (path: { kind: string; label: string }) => log.info('path', { path: path.kind, via: path.label }));
    session.on('stream', (stream: MuxStream) => this.onStream(stream, service, log));
    this.emit('session', session);
    return session;
  }

  private onStream(stream: MuxStream, service: ProvidedService, log: Logger): void {
    const socket = this.rt.transport.connect({ host: service.target.host, port: service.target.port, allowHalfOpen: true, noDelay: true });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      log.warn('target-error', { target: formatHostPort(service.target), stream: stream.id, error: err.code ?? err.message });
    });
    bridge(socket, stream);
  }
}

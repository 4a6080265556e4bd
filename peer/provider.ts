import { EventEmitter } from 'node:events';
import { after, type TimerHandle } from '../src/clock/scheduler.js';
import { ControlErrorCode, type ServerMessage } from '../src/control/index.js';
import { BurrowError, isBurrowError } from '../src/errors.js';
import { aeadPreference, type AeadAlgorithm } from '../src/crypto/index.js';
import { HandshakeResponder, type HandshakeResult } from '../src/handshake/index.js';
import { RateLimitedLog, type Logger } from '../src/log/logger.js';
import type { MuxStream } from '../src/mux/index.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import type { TunnelSession } from '../src/session/index.js';
import { bridge } from './bridge.js';
import { ControlClient } from './control-client.js';
import { formatHostPort, type HostPort } from './endpoint-arg.js';
import type { SessionTuning } from './tunnel-options.js';
import type { DirectConfig } from './direct-setup.js';
import { PEER_DEFAULTS, type PeerMode } from './peer-defaults.js';
import { planSession } from './session-plan.js';
import { SessionSetup } from './session-setup.js';
import { PeerCounters } from './peer-counters.js';
import type { SessionView } from './session-view.js';
import { SessionReporter } from './session-reporter.js';
import { ProviderUdp } from './udp/provider-udp.js';
import { udpSummary } from './udp/session-flows.js';
import { DEFAULT_UDP_SETTINGS, type ServiceProto, type UdpSettings } from './udp/udp-settings.js';

export interface ProvidedService {
  name: string;
  secret: string;
  /** The local service visitors reach, e.g. the NAS at 192.168.1.10:5000. */
  target: HostPort;
  /** TCP (default): each visitor connection is a stream; UDP: datagrams in flows, one target socket per flow. */
  proto?: ServiceProto;
  /** UDP only: flow idle time and cap per session (default DEFAULT_UDP_SETTINGS). */
  udpFlows?: UdpSettings;
}

/**
 * `transport` (rendezvous and target connections), `scheduler`, `random`
 * and `udp` (unused until the direct path lands) default to the real ones.
 */
export interface ProviderOptions extends RuntimeOptions {
  /** What this peer offers to seal with. Default aeadPreference() (AES-256-GCM with AES instructions, else ChaCha20-Poly1305; BURROW_AEAD overrides). */
  aead?: AeadAlgorithm;
  /** xtcp (default): visitors that ask may punch a direct path; stcp: relay only. */
  mode?: PeerMode;
  direct?: DirectConfig;
  /** The rendezvous, or several nodes of it (the next is used when one fails). */
  server: HostPort | readonly HostPort[];
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
/** A handshake whose confirm has not come by then is forgotten. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

interface PendingHandshake {
  responder: HandshakeResponder;
  service: ProvidedService;
  timer: TimerHandle;
}

/**
 * The provider peer: registers its services with the rendezvous and, for
 * each visitor that proves it holds a service's secret, runs a tunnel
 * session whose streams it connects to that service's local target.
 *
 * Events: 'registered' (service names), 'name-taken' (message), 'session'
 * (TunnelSession and its service's name, as soon as it exists), 'fatal' (BurrowError: a wrong token,
 * or a session tuning no session accepts: retrying cannot help).
 */
export class Provider extends EventEmitter {
  private readonly control: ControlClient;
  private readonly reporter: SessionReporter;
  private readonly services: Map<string, ProvidedService>;
  private readonly handshakes = new Map<string, PendingHandshake>();
  /** Running sessions by connection id (their wiring routes the punch messages). */
  private readonly sessions = new Map<string, { service: string; setup: SessionSetup; session: TunnelSession; udp?: ProviderUdp }>();
  private readonly refusals: RateLimitedLog;
  private readonly log: Logger;
  private readonly rt: Runtime;
  private readonly aead: AeadAlgorithm;
  private registerTimer: TimerHandle | null = null;
  private stopped = false;
  /** Counts across sessions, for metrics. */
  readonly counters = new PeerCounters();

  constructor(private readonly opts: ProviderOptions) {
    super();
    this.rt = resolveRuntime(opts);
    this.log = opts.logger;
    this.aead = opts.aead ?? aeadPreference();
    this.services = new Map(opts.services.map((s) => [s.name, s]));
    this.refusals = new RateLimitedLog(this.log, undefined, undefined, () => this.rt.scheduler.now());
    this.control = new ControlClient({ server: opts.server, token: opts.token, role: 'provider', logger: this.log, ...this.rt });
    this.reporter = new SessionReporter(this.control, () => this.sessionViews(), this.rt.scheduler);
    this.control.on('up', () => {
      this.reporter.onUp();
      this.register();
      // After a broken control connection, running sessions must tell the rendezvous where they are now.
      if (this.control.generation > 1) for (const { setup } of this.sessions.values()) setup.controlReconnected();
    });
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
    this.stopped = true;
    this.registerTimer?.cancel();
    this.reporter.stop();
    this.control.stop();
    for (const h of this.handshakes.values()) h.timer.cancel();
    this.handshakes.clear();
    for (const { session } of [...this.sessions.values()]) session.close();
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

  /** The sessions running now, with their wiring (for metrics). */
  sessionViews(): SessionView[] {
    return [...this.sessions.values()]
      .filter((v) => !v.session.closed)
      .map(({ service, session, setup, udp }) => (udp ? { service, session, setup, udp: udp.view } : { service, session, setup }));
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
        return this.onIncoming(m.connId, m.service, m.hello, m.proto ?? 'tcp');
      case 'confirm':
        return this.onConfirm(m.connId, m.confirm, m.ticket, m.direct === true);
      case 'punch':
      case 'punch-request':
        return this.sessions.get(m.connId)?.setup.onControl(m);
      default:
        return;
    }
  }

  private refuse(connId: string, code: ControlErrorCode, message: string): void {
    this.control.send({ type: 'refuse', connId, code, message });
  }

  private onIncoming(connId: string, name: string, helloB64: string, asked: ServiceProto): void {
    const service = this.services.get(name);
    if (service === undefined) return this.refuse(connId, ControlErrorCode.NO_SUCH_SERVICE, `this provider does not serve "${name}"`);
    const proto = service.proto ?? 'tcp';
    if (asked !== proto) {
      // Before the handshake: a session that could carry nothing the visitor sends is never set up.
      const message = `"${name}" is a ${proto.toUpperCase()} service and the visitor asked for ${asked.toUpperCase()}: run the visitor with --proto ${proto} (TOML proto = "${proto}")`;
      this.refusals.log('warn', 'visitor-refused', { service: name, conn: connId.slice(0, 8), reason: message });
      return this.refuse(connId, ControlErrorCode.PROTO_MISMATCH, message);
    }
    if (this.handshakes.has(connId) || this.sessions.has(connId)) {
      // One id names one handshake and its session: a second 'incoming' under it
      // (a rendezvous bug or replay) must not replace or disturb the first.
      this.refusals.log('warn', 'visitor-refused', { service: name, conn: connId.slice(0, 8), reason: 'connection id already in use' });
      return this.refuse(connId, ControlErrorCode.BUSY, 'connection id already in use');
    }
    if (this.handshakes.size >= (this.opts.maxPendingHandshakes ?? PEER_DEFAULTS.maxPendingHandshakes)) {
      this.refusals.log('warn', 'visitor-refused', { service: name, reason: 'too many handshakes in progress' });
      return this.refuse(connId, ControlErrorCode.BUSY, 'the provider is busy; try again');
    }
    if (this.sessions.size >= (this.opts.maxSessions ?? PEER_DEFAULTS.maxSessions)) return this.refuse(connId, ControlErrorCode.BUSY, 'the provider has too many sessions');
    const responder = new HandshakeResponder({ secret: service.secret, service: name, randomBytes: (n) => this.rt.random.bytes(n), aead: this.aead });
    let reply: Buffer;
    try {
      reply = responder.onHello(Buffer.from(helloB64, 'base64'));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.refusals.log('warn', 'visitor-refused', { service: name, reason: message });
      return this.refuse(connId, ControlErrorCode.HANDSHAKE, message);
    }
    const pending: PendingHandshake = {
      responder,
      service,
      timer: after(this.rt.scheduler, HANDSHAKE_TIMEOUT_MS, () => {
        if (this.handshakes.get(connId) === pending) this.handshakes.delete(connId);
      }),
    };
    this.handshakes.set(connId, pending);
    this.control.send({ type: 'accept', connId, reply: reply.toString('base64') });
  }

  private onConfirm(connId: string, confirmB64: string, ticket: string, direct: boolean): void {
    const h = this.handshakes.get(connId);
    if (h === undefined) return;
    this.handshakes.delete(connId);
    h.timer.cancel();
    let done: HandshakeResult;
    try {
      done = h.responder.onConfirm(Buffer.from(confirmB64, 'base64'));
    } catch (err) {
      const mismatch = isBurrowError(err, 'ERR_HANDSHAKE_SECRET_MISMATCH');
      this.refusals.log('warn', 'visitor-refused', {
        service: h.service.name,
        conn: connId.slice(0, 8),
        reason: mismatch ? 'the visitor does not know the service secret' : String(err),
      });
      return this.refuse(connId, mismatch ? ControlErrorCode.SECRET_MISMATCH : ControlErrorCode.HANDSHAKE, 'the service secret does not match');
    }
    this.startSession(connId, h.service, done, ticket, direct);
  }

  /** The handshake is done: the shared wiring runs the rest (session, direct, relay, ready). */
  private startSession(connId: string, service: ProvidedService, done: HandshakeResult, ticket: string, visitorAskedDirect: boolean): void {
    const log = this.log.child({ service: service.name, conn: connId.slice(0, 8) });
    const setup: SessionSetup = new SessionSetup({
      role: 'responder',
      connId,
      sessionKey: done.sessionKey,
      aead: done.aead,
      ticket,
      plan: planSession('responder', { mode: this.opts.mode ?? PEER_DEFAULTS.mode, relay: PEER_DEFAULTS.relay }, visitorAskedDirect),
      server: this.control.server,
      runtime: this.rt,
      tuning: this.opts.session,
      direct: this.opts.direct,
      control: this.control,
      logger: log,
      stopped: () => this.stopped,
      counters: this.counters,
      events: {
        session: (session) => {
          const udp = service.proto === 'udp' ? this.udpFlows(session, service, log) : undefined;
          this.sessions.set(connId, udp ? { service: service.name, setup, session, udp } : { service: service.name, setup, session });
          session.on('close', (err?: BurrowError) => {
            if (this.sessions.get(connId)?.session === session) this.sessions.delete(connId);
            log.info('session-closed', { reason: err?.message ?? 'closed', ...udpSummary(udp?.view) });
          });
          session.on('stream', (stream: MuxStream) => (udp ? this.refuseStream(stream, log) : this.onStream(stream, service, log)));
          this.emit('session', session, service.name);
        },
        failed: (err) => {
          // Tell the visitor at once rather than let its relay join time out.
          this.refuse(connId, ControlErrorCode.SETUP_FAILED, err.message);
          if (err.code !== 'ERR_CONFIG') return;
          this.log.error('fatal', { code: err.code, error: err.message });
          this.emit('fatal', err);
        },
      },
    });
    setup.start();
  }

  /** A UDP service's session carries datagrams only; its flows live and end with it. */
  private udpFlows(session: TunnelSession, service: ProvidedService, log: Logger): ProviderUdp {
    return new ProviderUdp({
      session,
      target: service.target,
      settings: service.udpFlows ?? DEFAULT_UDP_SETTINGS,
      scheduler: this.rt.scheduler,
      udp: this.rt.udp,
      logger: log,
      counters: this.counters.udp,
      ...(this.rt.lookup ? { lookup: this.rt.lookup } : {}),
    });
  }

  private refuseStream(stream: MuxStream, log: Logger): void {
    this.refusals.log('warn', 'stream-refused', { reason: 'this is a UDP service: its sessions carry datagrams only' });
    log.debug('stream-refused', { stream: stream.id });
    stream.reset();
  }

  private onStream(stream: MuxStream, service: ProvidedService, log: Logger): void {
    const socket = this.rt.transport.connect({ host: service.target.host, port: service.target.port, allowHalfOpen: true, noDelay: true });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      log.warn('target-error', { target: formatHostPort(service.target), stream: stream.id, error: err.code ?? err.message });
    });
    bridge(socket, stream);
  }
}


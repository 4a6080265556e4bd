import { EventEmitter } from 'node:events';
import { after, every, type TimerHandle } from '../src/clock/scheduler.js';
import {
  ControlConnection,
  ControlErrorCode,
  NONCE_LENGTH,
  clientProof,
  parseCapabilities,
  parseServerMessage,
  proofsEqual,
  serverProof,
  type ClientMessage,
  type RendezvousCapabilities,
  type ServerMessage,
} from '../src/control/index.js';
import { BurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { dialStream, type Dial } from '../src/net/dial-stream.js';
import type { StreamSocket } from '../src/net/stream-transport.js';
import { resolveRuntime, type Runtime, type RuntimeOptions } from '../src/net/runtime.js';
import { Backoff } from './backoff.js';
import { formatHostPort, type HostPort } from './endpoint-arg.js';
import { ServerRotation, asServerList } from './server-list.js';

export interface ControlClientOptions extends RuntimeOptions {
  /**
   * The rendezvous, or several nodes of it: one is used at a time; a peer
   * that cannot reach it, or loses it, moves to the next at once.
   */
  server: HostPort | readonly HostPort[];
  token: string;
  role: 'provider' | 'visitor';
  name?: string;
  logger: Logger;
  /** No message from the rendezvous for this long means the connection is dead. */
  silenceTimeoutMs?: number;
  connectTimeoutMs?: number;
  backoff?: Backoff;
}

type Conn = ControlConnection<ServerMessage, ClientMessage>;

/** How often a peer pings the rendezvous (the rendezvous pings every 10 s too). */
const PEER_HEARTBEAT_MS = 5000;
/** Addresses remembered as having failed us (a name's A/AAAA records), the oldest forgotten first. */
const MAX_FAILED_ADDRESSES = 16;

/**
 * A peer's control connection to the rendezvous, kept up for as long as the
 * peer runs: login by challenge-response (and a check of the server's own
 * proof), heartbeats, and reconnection with capped, jittered backoff.
 * Given several rendezvous addresses it moves to the next one when the
 * current one fails, and backs off only after all of them did.
 *
 * Events: 'up' (after every successful login), 'down', 'message'
 * (ServerMessage), 'fatal' (BurrowError: wrong token — retrying cannot help).
 */
export class ControlClient extends EventEmitter {
  private conn: Conn | null = null;
  private ready = false;
  private stopped = false;
  private retryTimer: TimerHandle | null = null;
  private dial: Dial | null = null;
  private silenceTimer: TimerHandle | null = null;
  private logins = 0;
  private caps: RendezvousCapabilities = { reportEveryMs: null };
  private readonly rt: Runtime;
  private readonly backoff: Backoff;
  private readonly silenceTimeoutMs: number;
  private readonly rotation: ServerRotation;
  /**
   * Addresses whose connection failed or went silent, last: a name with
   * several A/AAAA records (one per rendezvous node) tries the others first.
   */
  private readonly failedAddresses = new Set<string>();

  constructor(private readonly opts: ControlClientOptions) {
    super();
    this.rt = resolveRuntime(opts);
    this.backoff = opts.backoff ?? new Backoff(undefined, undefined, () => this.rt.random.next());
    this.silenceTimeoutMs = opts.silenceTimeoutMs ?? 20_000;
    this.rotation = new ServerRotation(asServerList(opts.server));
  }

  /** The rendezvous this client is connected to (or trying now): sessions set up through it use it for their relay and STUN. */
  get server(): HostPort {
    return this.rotation.current;
  }

  start(): void {
    this.connect();
  }

  get isUp(): boolean {
    return this.ready;
  }

  /** Which control connection this is: counts successful logins, so a session can tell it was set up on an older one. */
  get generation(): number {
    return this.logins;
  }

  /** What the rendezvous asked for in its latest welcome (an older one asks for nothing). */
  get capabilities(): RendezvousCapabilities {
    return this.caps;
  }

  /** Sends if logged in; returns false (and drops the message) otherwise. */
  send(message: ClientMessage): boolean {
    if (!this.ready || this.conn === null) return false;
    this.conn.send(message);
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.silenceTimer?.cancel();
    this.dial?.cancel();
    this.conn?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const server = this.rotation.current;
    // A name with A and AAAA records is raced (Happy Eyeballs); the connect timeout covers that too.
    const dial = dialStream(this.rt, { host: server.host, port: server.port, noDelay: true, tryLast: this.failedAddresses });
    this.dial = dial;
    let conn: Conn | null = null;
    let lastError = '';
    const connectTimer = after(
      this.rt.scheduler,
      this.opts.connectTimeoutMs ?? 10_000,
      () => {
        lastError = 'timed out';
        dial.cancel();
        conn?.close();
      },
      { keepAlive: true },
    );
    dial.socket.then(
      (socket) => {
        if (this.dial === dial) this.dial = null;
        if (this.stopped) {
          connectTimer.cancel();
          socket.destroy();
          return;
        }
        conn = this.attach(socket, connectTimer, (e) => (lastError = e), () => lastError);
      },
      (err: unknown) => {
        if (this.dial === dial) this.dial = null;
        connectTimer.cancel();
        if (this.stopped) return;
        this.retryLater(false, lastError || (err instanceof Error ? err.message : String(err)));
      },
    );
  }

  /** Runs one connection: login, heartbeats, and on close a retry. Returns its ControlConnection. */
  private attach(socket: StreamSocket, connectTimer: TimerHandle, setError: (e: string) => void, lastError: () => string): Conn {
    const { logger } = this.opts;
    const server = this.rotation.current;
    const conn: Conn = new ControlConnection(socket, parseServerMessage);
    this.conn = conn;
    const address = socket.remoteAddress;
    const clientNonce = this.rt.random.bytes(NONCE_LENGTH);
    let serverNonce: Buffer | null = null;
    let heartbeat: TimerHandle | null = null;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      setError(err.code ?? err.message);
    });
    conn.on('invalid', (reason: string) => {
      setError(`rendezvous sent an invalid frame (${reason})`);
    });
    conn.on('message', (m: ServerMessage) => {
      this.armSilenceTimer(conn);
      switch (m.type) {
        case 'challenge':
          serverNonce = Buffer.from(m.nonce, 'base64');
          conn.send({
            type: 'login',
            role: this.opts.role,
            nonce: clientNonce.toString('base64'),
            proof: clientProof(this.opts.token, serverNonce, clientNonce, this.opts.role).toString('base64'),
            ...(this.opts.name ? { name: this.opts.name } : {}),
          });
          return;
        case 'welcome': {
          if (serverNonce === null) return conn.close();
          const expected = serverProof(this.opts.token, serverNonce, clientNonce, this.opts.role);
          if (!proofsEqual(Buffer.from(m.proof, 'base64'), expected)) {
            setError('the rendezvous could not prove it knows the token');
            return conn.close();
          }
          connectTimer.cancel();
          if (address !== undefined) this.failedAddresses.delete(address);
          const { peerId, caps } = parseCapabilities(m.peerId);
          this.caps = caps;
          this.ready = true;
          this.logins++;
          // Our own heartbeat: a connection the network broke under us (a NAT
          // flushed its state, a mapping expired) is only noticed when we send —
          // the reset comes back at once — not after the server's silence.
          heartbeat = every(this.rt.scheduler, PEER_HEARTBEAT_MS, () => conn.send({ type: 'ping', t: this.rt.scheduler.now() }));
          this.backoff.reset();
          this.rotation.succeeded();
          logger.info('rendezvous-connected', { server: formatHostPort(server), peerId, ...(caps.reportEveryMs !== null ? { reportEveryMs: caps.reportEveryMs } : {}) });
          this.emit('up');
          return;
        }
        case 'ping':
          conn.send({ type: 'pong', t: m.t });
          return;
        case 'error':
          if (m.code === ControlErrorCode.BAD_TOKEN) {
            this.stopped = true;
            this.emit(
              'fatal',
              new BurrowError('ERR_RENDEZVOUS_TOKEN', `the rendezvous refused the login: ${m.message} (check --token)`),
            );
            conn.close();
            return;
          }
          if (m.fatal) setError(`${m.code}: ${m.message}`);
          this.emit('message', m);
          return;
        default:
          if (this.ready) this.emit('message', m);
      }
    });
    conn.on('close', () => {
      connectTimer.cancel();
      heartbeat?.cancel();
      this.silenceTimer?.cancel();
      const wasReady = this.ready;
      this.ready = false;
      if (this.conn === conn) this.conn = null;
      if (wasReady) this.emit('down');
      if (this.stopped) return;
      if (address !== undefined) this.rememberFailed(address);
      this.retryLater(wasReady, lastError());
    });
    return conn;
  }

  private retryLater(wasReady: boolean, error: string): void {
    const failed = this.rotation.current;
    // Another node of the list may be fine: try it now; a whole round of failures backs off.
    const step = this.rotation.failed();
    const delay = step === 'try-next' ? 0 : this.backoff.next();
    this.opts.logger.warn(wasReady ? 'rendezvous-lost' : 'rendezvous-unreachable', {
      server: formatHostPort(failed),
      error: error || undefined,
      ...(this.rotation.size > 1 ? { next: formatHostPort(this.rotation.current) } : {}),
      retryInMs: Math.round(delay),
    });
    // Keeps the process alive: while the rendezvous is down this timer is all a provider has.
    this.retryTimer = after(this.rt.scheduler, delay, () => this.connect(), { keepAlive: true });
  }

  private rememberFailed(address: string): void {
    this.failedAddresses.delete(address);
    this.failedAddresses.add(address);
    if (this.failedAddresses.size > MAX_FAILED_ADDRESSES) {
      const oldest = this.failedAddresses.values().next();
      if (oldest.done !== true) this.failedAddresses.delete(oldest.value);
    }
  }

  private armSilenceTimer(conn: Conn): void {
    this.silenceTimer?.cancel();
    this.silenceTimer = after(this.rt.scheduler, this.silenceTimeoutMs, () => conn.close());
  }
}

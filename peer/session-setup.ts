import type { Role } from '../src/role.js';
import type { ClientMessage, ServerMessage } from '../src/control/index.js';
import { DEFAULT_AEAD, deriveSessionKeys, type AeadAlgorithm } from '../src/crypto/index.js';
import { BurrowError, isBurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import type { Runtime } from '../src/net/runtime.js';
import type { RecordLink } from '../src/path/record-link.js';
import { describePath, type LockedEndpoint } from '../src/punch/index.js';
import { TunnelSession } from '../src/session/index.js';
import type { DirectLink } from './direct-link.js';
import { createDirectLink, type DirectConfig } from './direct-setup.js';
import { withRejoinTicket } from './direct/offer.js';
import type { HostPort } from './endpoint-arg.js';
import type { PeerCounters } from './peer-counters.js';
import { openRelayLink } from './relay-connector.js';
import type { SessionPlan } from './session-plan.js';
import { sessionTuning, type SessionTuning } from './tunnel-options.js';

/** A punch attempt that ended without a path: its number in the session, why, and what it tried. */
export interface PunchFailure {
  readonly attempt: number;
  readonly reason: string;
  readonly timeline: string;
}

/** What the peer does at each point of a setup; everything else is the setup's. */
export interface SessionSetupEvents {
  /** The session exists, before any link: register it (its streams, its close). */
  session(session: TunnelSession): void;
  /** The session is announced: it runs on the relay, or waits for its direct path. */
  ready?(session: TunnelSession): void;
  /** The direct path came up. */
  directUp?(session: TunnelSession): void;
  /** The setup could not complete: what it had opened is closed (the session too, with this error). */
  failed(err: BurrowError): void;
}

/** What a session needs of the peer's control channel. */
export interface SessionControl {
  send(m: ClientMessage): boolean;
  /** Counts logins: a change means the connection the session was set up on is gone. */
  readonly generation: number;
}

export interface SessionSetupOptions {
  role: Role;
  connId: string;
  /** From the handshake. */
  sessionKey: Buffer;
  /** The AEAD the handshake negotiated. Default DEFAULT_AEAD. */
  aead?: AeadAlgorithm;
  /** The rendezvous's single-use ticket for this session's relay link. */
  ticket: string;
  plan: SessionPlan;
  /** The rendezvous node the control channel is on (STUN for the direct path; the relay link unless `relayServer`). */
  server: HostPort;
  /** Where the relay link goes when the session is held by another node of a rendezvous cluster. */
  relayServer?: HostPort | undefined;
  runtime: Runtime;
  tuning?: SessionTuning | undefined;
  direct?: DirectConfig | undefined;
  /** The control channel (a ControlClient): its sends, and which connection it is on (offers after a reconnect carry the ticket). */
  control: SessionControl;
  logger: Logger;
  /** The peer stopped: a setup still waiting closes what it opened and ends quietly. */
  stopped: () => boolean;
  events: SessionSetupEvents;
  /** The peer's counts across sessions (punch outcomes, path deaths, closed sessions' bytes). */
  counters?: PeerCounters | undefined;
}

/**
 * One session's wiring, the same for both roles: keys and TunnelSession,
 * then the relay link and the DirectLink in the order the plan gives, then
 * the announcement. It then keeps the links tied to the session: a closed
 * relay hands over to the direct path (or ends the session), and a closed
 * session closes both links.
 *
 * A step that throws (an invalid session tuning, a relay the session cannot
 * do without) becomes a typed BurrowError: what was opened is closed, the
 * error is logged and given to `events.failed`.
 */
export class SessionSetup {
  readonly connId: string;
  private readonly log: Logger;
  private readonly mode: 'xtcp' | 'stcp';
  private session: TunnelSession | null = null;
  private relayLink: RecordLink | null = null;
  private directLink: DirectLink | null = null;
  private kind: string | null = null;
  private readonly punchCounts = { direct: 0, failed: 0 };
  private failure: PunchFailure | null = null;
  /** Sends on the control channel; offers carry the ticket once the control connection is a newer one. */
  private readonly sendControl: (m: ClientMessage) => boolean;

  constructor(private readonly o: SessionSetupOptions) {
    this.connId = o.connId;
    this.log = o.logger;
    this.mode = o.plan.direct ? 'xtcp' : 'stcp';
    const born = o.control.generation;
    this.sendControl = (m) => o.control.send(withRejoinTicket(m, o.ticket, o.control.generation !== born));
  }

  /** The direct side, once it exists (null for relay-only sessions). */
  get direct(): DirectLink | null {
    return this.directLink;
  }

  /** How the direct path reaches the peer ('direct LAN', 'direct internet', '… IPv6') while one is up. */
  get directKind(): string | null {
    return this.kind;
  }

  /** This session's punch attempts that found a path, and that ended without one (a probe went out). */
  get punches(): { readonly direct: number; readonly failed: number } {
    return { ...this.punchCounts };
  }

  /** The latest attempt that failed, with its timeline (null: none has). */
  get lastFailure(): PunchFailure | null {
    return this.failure;
  }

  /** The control channel is up again on a new connection. */
  controlReconnected(): void {
    this.directLink?.controlReconnected();
  }

  /** Punch messages of this connection, from the control channel. */
  onControl(m: ServerMessage): void {
    this.directLink?.onControl(m);
  }

  /**
   * Runs the setup in the background. Every failure of a step ends in
   * `abort`; an exception from a peer's own handler inside `abort` is a bug
   * of that handler and is thrown outside the promise chain (as a throwing
   * event listener would be), where the process's last line of defence
   * reports it: never a silently rejected promise.
   */
  start(): void {
    this.steps()
      .catch((err: unknown) => this.abort(err))
      .catch((bug: unknown) =>
        queueMicrotask(() => {
          throw bug;
        }),
      );
  }

  private async steps(): Promise<void> {
    const { plan } = this.o;
    if (plan.declineDirect !== null) {
      this.sendControl({ type: 'offer', connId: this.connId, attempt: 0, candidates: [], reason: plan.declineDirect });
    }
    const session = this.openSession();
    if (plan.relayFirst && !(await this.joinRelay(session))) return;
    if (plan.direct && !(await this.openDirect(session))) return;
    this.announce(session);
    if (!plan.relayFirst) await this.joinRelay(session);
  }

  /** Keys and the session. Its tuning is the only input here that can be wrong. */
  private openSession(): TunnelSession {
    let session: TunnelSession;
    try {
      session = new TunnelSession({
        ...sessionTuning(this.mode, this.o.tuning),
        keys: deriveSessionKeys(this.o.sessionKey, this.o.role, this.connId, this.o.aead ?? DEFAULT_AEAD),
        role: this.o.role,
        scheduler: this.o.runtime.scheduler,
      });
    } catch (err) {
      throw new BurrowError('ERR_CONFIG', `invalid session tuning: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.session = session;
    if (this.o.counters) this.o.counters.sessionsOpened++;
    session.on('close', () => {
      this.o.counters?.sessionClosed(session.mux.stats);
      this.relayLink?.close();
      this.directLink?.close();
    });
    this.o.events.session(session);
    return session;
  }

  /** False when the setup ends here (the session closed or the peer stopped meanwhile). */
  private async joinRelay(session: TunnelSession): Promise<boolean> {
    if (!this.o.plan.relay) return true;
    let link: RecordLink;
    try {
      link = await openRelayLink(this.o.relayServer ?? this.o.server, this.connId, this.o.ticket, undefined, this.o.runtime);
    } catch (err) {
      if (!this.o.plan.direct) throw err;
      this.log.warn('relay-unavailable', { error: err instanceof Error ? err.message : String(err), note: 'direct path only' });
      return true;
    }
    if (session.closed || this.o.stopped()) {
      link.close();
      return false;
    }
    this.relayLink = link;
    link.bind(session.receiveRecord);
    if (this.directLink !== null) this.directLink.relay = link;
    if (session.currentPath === null) session.setPath(link);
    link.whenClosed(() => this.onRelayClosed(session));
    return true;
  }

  private async openDirect(session: TunnelSession): Promise<boolean> {
    const direct = await createDirectLink({
      connId: this.connId,
      role: this.o.role,
      sessionKey: this.o.sessionKey,
      session,
      runtime: this.o.runtime,
      server: this.o.server,
      config: this.o.direct ?? {},
      sendControl: this.sendControl,
      logger: this.log,
    });
    if (session.closed || this.o.stopped()) {
      direct.close();
      return false;
    }
    this.directLink = direct;
    direct.relay = this.relayLink;
    let punches = 0;
    direct.on('direct', (_path: unknown, locked: LockedEndpoint) => {
      this.kind = describePath({ address: locked.remote.address, lan: locked.lan });
      this.punchCounts.direct++;
      this.o.counters?.punchEnded('direct', punches++);
      this.o.events.directUp?.(session);
    });
    direct.on('lost', () => {
      this.kind = null;
      if (this.o.counters) this.o.counters.pathDeaths++;
    });
    direct.on('failed', (reason: string, timeline: string) => {
      // No timeline: the attempt ended before a probe went out.
      if (timeline !== '') {
        this.punchCounts.failed++;
        this.failure = { attempt: punches, reason, timeline };
      }
      this.o.counters?.punchEnded(timeline === '' ? 'not-run' : 'failed', punches++);
      this.onPunchFailed(session, reason);
    });
    return true;
  }

  private announce(session: TunnelSession): void {
    const relay = this.relayLink;
    this.log.info(
      'session-up',
      relay !== null
        ? { path: 'relay', via: relay.label, mode: this.mode, aead: this.o.aead ?? DEFAULT_AEAD }
        : { path: 'pending', mode: this.mode, aead: this.o.aead ?? DEFAULT_AEAD, ...(this.o.plan.relay ? {} : { relay: 'never' }) },
    );
    session.on('path', (path: { kind: string; label: string }) =>
      this.log.info('path', { path: path.kind === 'direct' ? (this.kind ?? 'direct') : path.kind, via: path.label }),
    );
    this.directLink?.start();
    this.o.events.ready?.(session);
  }

  private onRelayClosed(session: TunnelSession): void {
    if (session.closed) return;
    if (this.directLink !== null) {
      // The direct path (now or after a fresh punch) carries on without the relay.
      this.directLink.relayLost((reason) => session.close(new BurrowError('ERR_SESSION_CLOSED', reason)));
      return;
    }
    session.close(new BurrowError('ERR_SESSION_CLOSED', 'relay link closed'));
  }

  private onPunchFailed(session: TunnelSession, reason: string): void {
    if (!this.o.plan.endWhenPunchFails || this.relayLink !== null || session.currentPath !== null) return;
    const without = this.o.plan.relay ? 'the relay link failed' : '--relay never';
    session.close(new BurrowError('ERR_CONNECT_FAILED', `no direct path to the peer and ${without}: ${reason}`));
  }

  /** A step threw: close what was opened, say why, hand the error to the peer. */
  private abort(cause: unknown): void {
    // Only a wrong configuration is fatal; anything else is worth another try (after the peer's backoff).
    const err =
      isBurrowError(cause, 'ERR_CONFIG') || isBurrowError(cause, 'ERR_CONNECT_FAILED')
        ? cause
        : new BurrowError('ERR_CONNECT_FAILED', `session setup failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.log.log(err.code === 'ERR_CONFIG' ? 'error' : 'warn', 'session-setup-failed', { code: err.code, error: err.message });
    this.relayLink?.close();
    this.directLink?.close();
    this.session?.close(err);
    this.o.events.failed(err);
  }
}

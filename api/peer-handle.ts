import type { Registry } from 'prom-client';
import { BurrowError } from '../src/errors.js';
import type { SessionPath } from '../src/session/tunnel-session.js';
import type { TunnelSession } from '../src/session/index.js';
import { releasePortMappings } from '../peer/direct-link.js';
import { peerRegistry, type PeerMetricsSource, type PeerRoleName } from '../peer/metrics.js';
import { PORTMAP_TIMERS } from '../src/portmap/index.js';
import { countersStatus, sessionStatus, type PeerStatus } from '../peer/status.js';
import { TypedEmitter, type PathInfo, type PeerEvents, type SessionEvent } from './events.js';

export type RunState = 'running' | 'stopping' | 'stopped';

/** Waits this long at most, on stop, for routers to confirm released port mappings. */
const PORTMAP_RELEASE_ON_STOP_MS = 2 * PORTMAP_TIMERS.releaseTimeoutMs;

function pathInfo(p: SessionPath): PathInfo {
  return { kind: p.kind, label: p.label };
}

/**
 * What a provider and a visitor have in common for an embedding program:
 * the sessions it runs (turned into typed events), its state, and a stop
 * that resolves once everything it opened is closed. A fatal failure stops
 * it, then is reported as 'fatal'.
 */
export abstract class PeerHandle extends TypedEmitter<PeerEvents> {
  private readonly live = new Map<number, { service: string; session: TunnelSession; openedAt: number }>();
  private nextId = 1;
  private stopping: Promise<void> | null = null;
  private stopped = false;
  private failedWith: BurrowError | null = null;
  private registry: Registry | null = null;

  protected constructor(
    private readonly role: PeerRoleName,
    private readonly portmap: boolean,
  ) {
    super();
  }

  /**
   * What its Prometheus metrics are read from: the counts it keeps across
   * sessions and its live sessions. Several peers of one role can share one
   * registry (peerRegistry(role, [a.metricsSource, b.metricsSource])), as a
   * config file's [[provide]] entries do.
   */
  abstract get metricsSource(): PeerMetricsSource;

  /**
   * Its Prometheus metrics (burrow_provider_* or burrow_visitor_*), a
   * prom-client Registry of its own (never the global one), read at each
   * scrape: `await peer.metrics().metrics()`. The same registry on every call.
   */
  metrics(): Registry {
    this.registry ??= peerRegistry(this.role, [this.metricsSource]);
    return this.registry;
  }

  /** 'stopped' once stop() resolved (after a fatal failure too). */
  get state(): RunState {
    if (this.stopping === null) return 'running';
    return this.stopped ? 'stopped' : 'stopping';
  }

  /** The failure that stopped it, if one did. */
  get failure(): BurrowError | null {
    return this.failedWith;
  }

  /** The live sessions and their current paths. */
  get sessions(): SessionEvent[] {
    return [...this.live].map(([id, { service, session }]) => ({ id, service, path: session.currentPath ? pathInfo(session.currentPath) : null }));
  }

  /** The names it offers (provider: those the rendezvous confirmed) or visits. */
  protected abstract get serviceNames(): readonly string[];

  /**
   * What `burrow status` shows of it: each live session's path, round trip,
   * bytes, age and port mappings, and its counts across sessions. Plain
   * JSON without any secret, token or key.
   */
  status(): PeerStatus {
    const source = this.metricsSource;
    const views = new Map(source.sessionViews().map((v) => [v.session, v]));
    const now = Date.now();
    return {
      role: this.role,
      services: [...this.serviceNames],
      sessions: [...this.live].map(([id, l]) => {
        const v = views.get(l.session);
        return sessionStatus({ id, service: l.service, session: l.session, openedAt: l.openedAt, setup: v?.setup ?? null, udp: v?.udp ?? null }, now);
      }),
      counters: countersStatus(source.counters),
    };
  }

  /** Closes every session, socket and timer it opened; the same promise if called again. */
  stop(): Promise<void> {
    if (this.stopping === null) {
      this.stopping = (async () => {
        await this.stopPeer();
        // A closed session gives its router mappings back; let those releases finish (bounded).
        if (this.portmap) await releasePortMappings(PORTMAP_RELEASE_ON_STOP_MS);
        this.stopped = true;
      })();
    }
    return this.stopping;
  }

  protected abstract stopPeer(): Promise<void> | void;

  /** A new session: its paths and its end become events. */
  protected track(session: TunnelSession, service: string): void {
    if (session.closed) return;
    const id = this.nextId++;
    this.live.set(id, { service, session, openedAt: Date.now() });
    session.on('path', (path: SessionPath, previous: SessionPath | null) => {
      this.emit('path', { id, service, path: pathInfo(path), previous: previous ? pathInfo(previous) : null });
    });
    session.on('close', (err?: BurrowError) => {
      this.live.delete(id);
      this.emit('session-closed', { id, service, ...(err ? { error: err } : {}) });
    });
    this.emit('session', { id, service, path: session.currentPath ? pathInfo(session.currentPath) : null });
  }

  protected fatal(err: BurrowError): void {
    if (this.failedWith !== null) return;
    this.failedWith = err;
    // Listeners run outside the promise chain: one that throws is an uncaught exception, as with any emitter, never a silent rejection.
    this.stop().then(
      () => queueMicrotask(() => this.emit('fatal', err)),
      (bug: unknown) =>
        queueMicrotask(() => {
          throw bug;
        }),
    );
  }
}

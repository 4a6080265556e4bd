import type { Logger } from '../../src/log/logger.js';
import type { PortMapProtocol } from '../../src/portmap/index.js';
import { AttemptPortMap, type PortMapperFactory } from './attempt-portmap.js';

/**
 * One session's router mappings across its attempts: a mapper per attempt
 * socket, the protocol that worked (the next attempt asks only that one), the
 * locked path's mapping (it lives as long as the path), and all of them
 * closed with the session.
 */
export class SessionPortMaps {
  private prefer: PortMapProtocol | null = null;
  /** Not yet closed (a retired one may still wait for its router). */
  private live: AttemptPortMap[] = [];
  private path: AttemptPortMap | null = null;

  /** `factory` null: never ask the router. */
  constructor(
    private readonly factory: PortMapperFactory | null,
    private readonly log: Logger,
  ) {}

  /** A mapper for attempt `n`'s session socket, bound to local `port` (null: mapping is off). */
  start(n: number, port: number): AttemptPortMap | null {
    if (this.factory === null) return null;
    const pm = new AttemptPortMap(this.factory, port, n, this.log, this.prefer, (p) => (this.prefer = p));
    this.live = [...this.live.filter((m) => !m.isClosed), pm];
    return pm;
  }

  /** The locked path now runs on `pm`'s socket (null: on a socket without a mapping); the previous path's mapping is released. */
  pathOn(pm: AttemptPortMap | null): void {
    const old = this.path;
    this.path = pm;
    if (old !== pm) old?.close();
  }

  /** The locked path is gone, and its mapping with it. */
  pathGone(): void {
    this.pathOn(null);
  }

  /** The protocol of each mapping the router granted and this session still holds. */
  held(): PortMapProtocol[] {
    const held: PortMapProtocol[] = [];
    for (const m of new Set([...this.live, ...(this.path ? [this.path] : [])])) {
      const mapped = m.isClosed ? null : m.mapped;
      if (mapped !== null) held.push(mapped.protocol);
    }
    return held;
  }

  close(): void {
    this.path = null;
    for (const m of this.live) m.close();
    this.live = [];
  }
}

import { BurrowError } from '../src/errors.js';
import { formatHostPort, parseHostPort, type HostPort } from './endpoint-arg.js';

/** More rendezvous addresses than this in one list is a mistake, not a cluster. */
export const MAX_SERVERS = 16;

/**
 * "a:7000,b:7000" (or one address) as a list of rendezvous addresses, in the
 * order given, duplicates dropped. Several addresses are several nodes of one
 * rendezvous service: a peer uses one and moves to the next when it fails.
 */
export function parseServerList(text: string, what: string): HostPort[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', `${what} is empty: give HOST:PORT, or several separated by commas`);
  if (parts.length > MAX_SERVERS) throw new BurrowError('ERR_INVALID_ARGUMENT', `${what} lists ${parts.length} servers; at most ${MAX_SERVERS}`);
  return dedupe(parts.map((p) => parseHostPort(p, what)));
}

/** The list without repeats (same host text and port), first occurrence kept. */
export function dedupe(servers: readonly HostPort[]): HostPort[] {
  const seen = new Set<string>();
  return servers.filter((s) => {
    const key = formatHostPort(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What to do after a connection to the current server failed or was lost. */
export type RotationStep =
  /** Another server of the list has not been tried since the last success: try it now. */
  | 'try-next'
  /** Every server failed since the last success: wait (backoff), then go round again. */
  | 'back-off';

/**
 * Which rendezvous of a list a peer uses. Sans-I/O: it only keeps the index
 * and which servers failed since the last success. A lost connection moves
 * on at once (the server just failed us; another may be fine), and only a
 * whole round of failures costs a backoff, so one dead node delays a peer by
 * one connect attempt, and a dead service does not make peers spin.
 */
export class ServerRotation {
  private index = 0;
  private failedThisRound = 0;

  constructor(private readonly servers: readonly HostPort[]) {
    if (servers.length === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', 'a peer needs at least one rendezvous address');
  }

  /** The server to connect to now. */
  get current(): HostPort {
    const s = this.servers[this.index];
    if (s === undefined) throw new BurrowError('ERR_INTERNAL', 'server rotation index out of range');
    return s;
  }

  get size(): number {
    return this.servers.length;
  }

  /** Logged in at the current server: a later failure starts a fresh round. */
  succeeded(): void {
    this.failedThisRound = 0;
  }

  /** The current server failed (unreachable, or its connection was lost): move on. */
  failed(): RotationStep {
    this.failedThisRound++;
    this.index = (this.index + 1) % this.servers.length;
    if (this.failedThisRound < this.servers.length) return 'try-next';
    this.failedThisRound = 0;
    return 'back-off';
  }
}

/** One address or several, as a list. */
export function asServerList(server: HostPort | readonly HostPort[]): readonly HostPort[] {
  return 'host' in server ? [server] : server;
}

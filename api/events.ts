import { EventEmitter } from 'node:events';
import type { BurrowError } from '../src/errors.js';
import type { PathKind } from '../src/path/datagram-path.js';

/** Where a session's packets go: the relay through the rendezvous, or the punched direct UDP path. */
export interface PathInfo {
  kind: PathKind;
  /** For people: "relay via 127.0.0.1:7000", "udp 203.0.113.7:41641". */
  label: string;
}

export interface SessionEvent {
  /** Unique within this provider or visitor. */
  id: number;
  service: string;
  /** The path it runs on now; null while it has none yet (a 'path' event follows). */
  path: PathInfo | null;
}

export interface PathEvent {
  id: number;
  service: string;
  path: PathInfo;
  /** null for a session's first path. */
  previous: PathInfo | null;
}

export interface SessionClosedEvent {
  id: number;
  service: string;
  /** Why, when it did not end by a normal close. */
  error?: BurrowError;
}

/** Events of a provider and a visitor. */
export interface PeerEvents {
  /** A tunnel session with the other peer exists (end-to-end keys agreed). */
  session: (e: SessionEvent) => void;
  /** A session moved to another path (relay -> direct when the punch worked, back when the direct path died). */
  path: (e: PathEvent) => void;
  'session-closed': (e: SessionClosedEvent) => void;
  /**
   * A failure retrying cannot help (the rendezvous refused the token, the
   * service secret does not match, an invalid setting): the peer has stopped.
   */
  fatal: (err: BurrowError) => void;
}

type Listener = (...args: never[]) => void;

/** An EventEmitter whose event names and payloads are checked against `E`. */
export class TypedEmitter<E extends { [K in keyof E]: Listener }> {
  private readonly emitter = new EventEmitter();

  on<K extends keyof E & string>(event: K, listener: E[K]): this {
    this.emitter.on(event, listener as unknown as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: E[K]): this {
    this.emitter.once(event, listener as unknown as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: E[K]): this {
    this.emitter.off(event, listener as unknown as (...args: unknown[]) => void);
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: Parameters<E[K]>): void {
    this.emitter.emit(event, ...args);
  }
}

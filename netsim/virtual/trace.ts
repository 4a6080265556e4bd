/**
 * What happened in a virtual network run, event for event: datagrams sent and
 * received by sockets, NAT decisions, and drops with their reason. Two runs
 * with the same seed produce identical traces (and digests).
 */
import { fnv1aString } from './packet.js';

export type TraceKind =
  /** A socket handed a datagram to the network. */
  | 'send'
  /** A socket's handler received a datagram. */
  | 'recv'
  /** A NAT translated an outbound packet (note: the decision). */
  | 'nat-out'
  /** A NAT translated an inbound packet to an inside host. */
  | 'nat-in'
  /** A NAT created, expired or evicted state (note says which). */
  | 'nat-state'
  /** A site router's IPv6 firewall opened, expired or flushed a pinhole (note says which). */
  | 'fw-state'
  /** A packet was discarded (note: the reason). */
  | 'drop';

export interface TraceEvent {
  /** Virtual time in ms. */
  t: number;
  kind: TraceKind;
  /** Node (host, router, NAT) where it happened. */
  node: string;
  /** Source and destination endpoints as "a.b.c.d:port" or "[v6]:port" at that point. */
  from: string;
  to: string;
  /** UDP payload length in bytes. */
  len: number;
  /** FNV-1a of the payload (send/recv only). */
  hash?: number;
  ttl?: number;
  note?: string;
}

export class Trace {
  /** Recorded events (empty when recording is off; the digest is always kept). */
  readonly events: TraceEvent[] = [];
  private hash = 0x811c9dc5;
  private n = 0;

  constructor(private readonly record: boolean) {}

  add(event: TraceEvent): void {
    this.n++;
    this.hash = fnv1aString(
      `${event.t}|${event.kind}|${event.node}|${event.from}|${event.to}|${event.len}|${event.hash ?? ''}|${event.ttl ?? ''}|${event.note ?? ''}\n`,
      this.hash,
    );
    if (this.record) this.events.push(event);
  }

  /** Number of events so far (recorded or not). */
  get count(): number {
    return this.n;
  }

  /** A fingerprint of every event so far, in order. */
  get digest(): string {
    return `${this.n}:${this.hash.toString(16).padStart(8, '0')}`;
  }
}

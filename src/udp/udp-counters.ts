/**
 * What UDP flows count: datagrams and bytes each way and drops by reason.
 * "sent" is into the tunnel (towards the other peer), "received" is out of
 * it (towards the local client or target), as the peers' byte counters say.
 */
export const UDP_DROP_REASONS = [
  /** Bigger than the session's current path carries (never fragmented into a stream). */
  'too_big',
  /** The session has no path (yet), or there is no session. */
  'no_path',
  /** The relay is back-pressured: dropped rather than queued. */
  'congested',
  /** The session was closing. */
  'closed',
  /** A new flow refused: the session has its maximum of flows. */
  'flow_cap',
  /** A reply for a flow this visitor no longer has. */
  'unknown_flow',
  /** A datagram from the peer too short to hold a flow id. */
  'malformed',
  /** The provider could not hand it to the target (address, socket, or its queue while the socket opens). */
  'target',
] as const;
export type UdpDropReason = (typeof UDP_DROP_REASONS)[number];

export interface UdpCounts {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
}

export function zeroCounts(): UdpCounts {
  return { datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0 };
}

export type UdpDrops = Record<UdpDropReason, number>;

function zeroDrops(): UdpDrops {
  const d: Partial<UdpDrops> = {};
  for (const r of UDP_DROP_REASONS) d[r] = 0;
  return d as UdpDrops;
}

/**
 * A session's (or a peer's) UDP counts. `parent`, when given, counts
 * everything too: a peer's totals never go backwards when a session ends.
 */
export class UdpCounters {
  readonly counts: UdpCounts = zeroCounts();
  readonly drops: UdpDrops = zeroDrops();
  /** Flows open now. */
  flows = 0;
  flowsOpened = 0;

  constructor(private readonly parent: UdpCounters | null = null) {}

  sent(bytes: number): void {
    this.counts.datagramsSent++;
    this.counts.bytesSent += bytes;
    this.parent?.sent(bytes);
  }

  received(bytes: number): void {
    this.counts.datagramsReceived++;
    this.counts.bytesReceived += bytes;
    this.parent?.received(bytes);
  }

  dropped(reason: UdpDropReason): void {
    this.drops[reason]++;
    this.parent?.dropped(reason);
  }

  flowOpened(): void {
    this.flows++;
    this.flowsOpened++;
    this.parent?.flowOpened();
  }

  flowClosed(): void {
    this.flows--;
    this.parent?.flowClosed();
  }

  /**
   * Adds another's totals (datagrams, bytes, drops, flows opened), not its
   * flows open now: for the counts of a peer that stopped, kept so that no
   * total goes down. Not passed on to a parent.
   */
  add(other: UdpCounters): void {
    for (const k of Object.keys(this.counts) as (keyof UdpCounts)[]) this.counts[k] += other.counts[k];
    for (const r of UDP_DROP_REASONS) this.drops[r] += other.drops[r];
    this.flowsOpened += other.flowsOpened;
  }

  /** Drops with a count above 0, for a log line or a status view. */
  nonZeroDrops(): Partial<UdpDrops> {
    const out: Partial<UdpDrops> = {};
    for (const r of UDP_DROP_REASONS) if (this.drops[r] > 0) out[r] = this.drops[r];
    return out;
  }
}

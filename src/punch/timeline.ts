import type { UdpEndpoint } from '../net/udp-socket.js';

export interface TimelineEntry {
  /** ms since the punch started (negative: before the start). */
  t: number;
  event: string;
  endpoint?: string;
  detail?: string;
  /** How many times this event happened for this endpoint (the first is timed). */
  count: number;
}

/**
 * What a punch tried, for the log line a user pastes into a bug report. Each
 * (event, endpoint) keeps its first time and a count, so the timeline stays
 * short however many packets flew; it is bounded in entries too.
 */
export class PunchTimeline {
  private readonly entries: TimelineEntry[] = [];
  private readonly index = new Map<string, TimelineEntry>();
  private overflow = 0;

  constructor(
    private readonly origin: number,
    private readonly maxEntries = 128,
  ) {}

  record(now: number, event: string, endpoint?: UdpEndpoint, detail?: string): void {
    const ep = endpoint ? `${endpoint.address}:${endpoint.port}` : undefined;
    const key = `${event}|${ep ?? ''}`;
    const seen = this.index.get(key);
    if (seen !== undefined) {
      seen.count++;
      return;
    }
    if (this.entries.length >= this.maxEntries) {
      this.overflow++;
      return;
    }
    const entry: TimelineEntry = { t: Math.round(now - this.origin), event, count: 1 };
    if (ep !== undefined) entry.endpoint = ep;
    if (detail !== undefined) entry.detail = detail;
    this.entries.push(entry);
    this.index.set(key, entry);
  }

  get list(): readonly TimelineEntry[] {
    return this.entries;
  }

  /** One line per entry: "+12ms probe-sent 203.0.113.11:40000 x14 (srflx)". */
  format(): string {
    const lines = this.entries.map((e) =>
      [`+${e.t}ms`, e.event, e.endpoint, e.count > 1 ? `x${e.count}` : undefined, e.detail ? `(${e.detail})` : undefined]
        .filter((s) => s !== undefined)
        .join(' '),
    );
    if (this.overflow > 0) lines.push(`(${this.overflow} more events not kept)`);
    return lines.join('\n');
  }
}

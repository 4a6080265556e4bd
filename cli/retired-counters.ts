/**
 * A config file's entries share one metrics registry per role. An entry a
 * reload stops leaves that registry, but its counts must not: a `_total`
 * that went down would read as a counter reset. So its counters are added
 * into one "retired" source per role (no live sessions), which stays: one
 * object however often the file reloads.
 */
import { PeerCounters } from '../peer/peer-counters.js';
import type { PeerMetricsSource } from '../peer/metrics.js';

export class RetiredCounters implements PeerMetricsSource {
  readonly counters = new PeerCounters();

  sessionViews(): readonly [] {
    return [];
  }

  /** Adds every count of a stopped peer (its sessions closed, so their bytes are in its closed-session counts). */
  absorb(from: PeerCounters): void {
    this.counters.add(from);
  }
}

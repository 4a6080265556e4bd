import type { MuxStats } from '../src/mux/index.js';
import { UdpCounters } from '../src/udp/index.js';

/**
 * What a peer counts over its sessions' lives that no session keeps once it
 * is gone: punch outcomes, path deaths, and the bytes of closed sessions (so
 * totals never go backwards when a session ends). Live sessions' own counts
 * are read from them directly (see peer/metrics.ts).
 */
export class PeerCounters {
  sessionsOpened = 0;
  /** Attempts that locked a direct path. */
  punchesDirect = 0;
  /** Attempts that probed and found no path. */
  punchesFailed = 0;
  /** Attempts that ended before any probe (the peer offered no candidates, or the NAT pair cannot punch). */
  punchesNotRun = 0;
  /** Attempts after a session's first (a retry, or a new punch after its path died). */
  repunches = 0;
  /** Direct paths that stopped answering (the session went back to the relay). */
  pathDeaths = 0;
  /** Application bytes (stream payloads) of sessions already closed. */
  closedBytesSent = 0;
  closedBytesReceived = 0;
  /** UDP flows' counts over all sessions (live ones add to it as they go): datagrams, bytes, drops, flows open. */
  readonly udp = new UdpCounters();

  /** One punch attempt of a session ended; `nth` counts from 0 within the session. */
  punchEnded(outcome: 'direct' | 'failed' | 'not-run', nth: number): void {
    if (outcome === 'direct') this.punchesDirect++;
    else if (outcome === 'failed') this.punchesFailed++;
    else this.punchesNotRun++;
    if (nth > 0) this.repunches++;
  }

  /** Adds every count of another peer's (one that stopped: its sessions are closed, their bytes in its closed counts). */
  add(other: PeerCounters): void {
    this.sessionsOpened += other.sessionsOpened;
    this.punchesDirect += other.punchesDirect;
    this.punchesFailed += other.punchesFailed;
    this.punchesNotRun += other.punchesNotRun;
    this.repunches += other.repunches;
    this.pathDeaths += other.pathDeaths;
    this.closedBytesSent += other.closedBytesSent;
    this.closedBytesReceived += other.closedBytesReceived;
    this.udp.add(other.udp);
  }

  sessionClosed(mux: Readonly<MuxStats>): void {
    this.closedBytesSent += mux.dataBytesOut;
    this.closedBytesReceived += mux.dataBytesIn;
  }
}

/** Every resource the rendezvous hands out has a bound; these are the defaults. */
import { defaultConnectionCap } from './fd-limit.js';

export interface RendezvousLimits {
  /** TCP connections of any kind. Default: what the process's descriptor limit allows (fd-limit.ts). */
  maxConnections: number;
  /** Connections that have not logged in or joined a relay yet. */
  maxUnauthenticated: number;
  /** Time a new connection has to log in or join a relay. */
  loginTimeoutMs: number;
  /** The heartbeat loop's period (heartbeat.ts): silent peers dropped, peers that need it pinged. */
  heartbeatIntervalMs: number;
  /** A logged-in peer silent for this long is dropped. */
  heartbeatTimeoutMs: number;
  /** How often a peer's round-trip time (for punch timing) is measured again after the one at login. */
  rttRefreshMs: number;
  /** Session setups in progress at once, per visitor and in all. */
  maxPendingPerVisitor: number;
  maxPending: number;
  /** Time from a visitor's connect to both relay joins. */
  pendingTimeoutMs: number;
  maxRelayLinks: number;
  relayIdleTimeoutMs: number;
  /** Per relay link and direction; 0 = unlimited. */
  relayBytesPerSecond: number;
  /** Service names registered in all. */
  maxServices: number;
  maxServicesPerProvider: number;
  /** Sessions whose peers may punch (through the broker) at once; the least recently active is forgotten beyond it. */
  maxPunchPairs: number;
  /** How long one side's punch offer waits for the other's. */
  punchOfferTimeoutMs: number;
  /**
   * Bytes a control connection may leave unsent (a reader that does not
   * read): past it the peer is cut off, so it cannot grow our memory.
   */
  maxControlQueueBytes: number;
  /** How long a control connection's socket may stay full before the peer is cut off. */
  controlStallTimeoutMs: number;
}

const CONNECTION_CAP = defaultConnectionCap();

export const DEFAULT_RENDEZVOUS_LIMITS: RendezvousLimits = {
  maxConnections: CONNECTION_CAP,
  maxUnauthenticated: 2048,
  loginTimeoutMs: 10_000,
  heartbeatIntervalMs: 10_000,
  heartbeatTimeoutMs: 35_000,
  rttRefreshMs: 60_000,
  maxPendingPerVisitor: 32,
  maxPending: 4096,
  pendingTimeoutMs: 20_000,
  maxRelayLinks: 2048,
  relayIdleTimeoutMs: 90_000,
  relayBytesPerSecond: 0,
  // Room for every connection to be a provider with a couple of services.
  maxServices: Math.max(10_000, 2 * CONNECTION_CAP),
  maxServicesPerProvider: 64,
  maxPunchPairs: 4096,
  punchOfferTimeoutMs: 8000,
  maxControlQueueBytes: 256 * 1024,
  controlStallTimeoutMs: 60_000,
};

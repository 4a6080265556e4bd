/**
 * burrow as a library: the three roles, started from a program.
 *
 *   import { startRendezvous, startProvider, startVisitor } from 'burrow';
 *
 * Options are checked before anything starts (ERR_CONFIG names the wrong
 * one); every error is a BurrowError with a stable `code`. Nothing is logged
 * unless a Logger is passed (implement LogSink to receive its lines).
 */
export { startRendezvous, RunningRendezvous } from './rendezvous.js';
export { startProvider, RunningProvider } from './provider.js';
export { startVisitor, RunningVisitor } from './visitor.js';
export type { RunState } from './peer-handle.js';
export type { PeerEvents, SessionEvent, PathEvent, SessionClosedEvent, PathInfo } from './events.js';
export type { RendezvousOptions, ProviderOptions, VisitorOptions, DirectOptions, Endpoint, Servers } from './options.js';
export type { HostPort } from '../peer/endpoint-arg.js';
export type { RendezvousStats } from '../rendezvous/server.js';
export type { RendezvousHealth, HealthReason, ClusterHealthReport } from '../rendezvous/health.js';
export { rendezvousRegistry, type RendezvousMetricsSource } from '../rendezvous/metrics.js';
export { peerRegistry, type PeerMetricsSource, type PeerRoleName } from '../peer/metrics.js';
export { BurrowError, isBurrowError, type BurrowErrorCode } from '../src/errors.js';
export { Logger, type LogSink, type LoggerOptions, type LogFormat, type LogLevel, type LogFields } from '../src/log/logger.js';

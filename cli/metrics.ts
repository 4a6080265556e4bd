/**
 * `--metrics HOST:PORT` (and `metrics = "HOST:PORT"` in a config file): one
 * Prometheus endpoint per process, serving the process's own metrics and the
 * registry of every role it runs, and /health when the process runs a
 * rendezvous (peers have no health check there: 404).
 */
import type { Logger } from '../src/log/logger.js';
import { processRegistry } from '../src/metrics/process-registry.js';
import { METRICS_PATH, MetricsServer, type HealthAnswer, type MetricsSource } from '../src/metrics/serve.js';
import { parseHostPort } from '../peer/endpoint-arg.js';
import { peerRegistry, type PeerMetricsSource, type PeerRoleName } from '../peer/metrics.js';

export interface MetricsEndpoint {
  /** Adds a role's registry to what each scrape renders. */
  add(source: MetricsSource): void;
  /** The peers of one role, all in one registry (added on first use). */
  peers(role: PeerRoleName): PeerMetricsSource[];
  /** What GET /health answers from now on (the rendezvous's check; one per process). */
  setHealth(check: () => HealthAnswer): void;
  stop(): Promise<void>;
}

export const METRICS_HELP = 'serve Prometheus metrics at http://HOST:PORT/metrics (off by default; a bare :PORT means 127.0.0.1)';
/** The rendezvous's --metrics: the same endpoint, with its health check. */
export const RENDEZVOUS_METRICS_HELP = `${METRICS_HELP}; GET /health there answers 200 (healthy: listening, and in a cluster Redis connected and the lease held) or 503, with JSON`;

interface Stoppable {
  stop(): Promise<void> | void;
}

/**
 * `--metrics` for one role: the endpoint (when asked for) starts first, then
 * the role; if the role cannot start, the endpoint closes too. Returns what
 * the process must stop on its way out.
 */
export async function withMetrics(text: string | undefined, log: Logger, start: (metrics: MetricsEndpoint | undefined) => Stoppable | Promise<Stoppable>): Promise<Stoppable[]> {
  const metrics = text === undefined ? undefined : await startMetricsEndpoint(text, '--metrics', log);
  try {
    const running = await start(metrics);
    return metrics === undefined ? [running] : [running, metrics];
  } catch (err) {
    await metrics?.stop();
    throw err;
  }
}

/** Starts listening before any role starts, so a bad address fails first and changes nothing. */
export async function startMetricsEndpoint(text: string, what: string, log: Logger): Promise<MetricsEndpoint> {
  const { host, port } = parseHostPort(text, what, '127.0.0.1');
  const sources: MetricsSource[] = [processRegistry()];
  let health: (() => HealthAnswer) | null = null;
  const server = await MetricsServer.start({ host, port, sources, health: () => health?.() ?? null });
  log.info('metrics-listening', { metrics: `http://${server.address}${METRICS_PATH}` });
  const byRole = new Map<PeerRoleName, PeerMetricsSource[]>();
  return {
    add: (source) => void sources.unshift(source),
    peers(role) {
      let list = byRole.get(role);
      if (list === undefined) {
        list = [];
        byRole.set(role, list);
        sources.unshift(peerRegistry(role, list));
      }
      return list;
    },
    setHealth(check) {
      health = check;
    },
    stop: () => server.stop(),
  };
}

/**
 * `--metrics HOST:PORT` (and `metrics = "HOST:PORT"` in a config file): one
 * Prometheus endpoint per process, serving the process's own metrics and the
 * registry of every role it runs.
 */
import type { Logger } from '../src/log/logger.js';
import { processRegistry } from '../src/metrics/process-registry.js';
import { METRICS_PATH, MetricsServer, type MetricsSource } from '../src/metrics/serve.js';
import { parseHostPort } from '../peer/endpoint-arg.js';
import { peerRegistry, type PeerMetricsSource, type PeerRoleName } from '../peer/metrics.js';

export interface MetricsEndpoint {
  /** Adds a role's registry to what each scrape renders. */
  add(source: MetricsSource): void;
  /** The peers of one role, all in one registry (added on first use). */
  peers(role: PeerRoleName): PeerMetricsSource[];
  stop(): Promise<void>;
}

export const METRICS_HELP = 'serve Prometheus metrics at http://HOST:PORT/metrics (off by default; a bare :PORT means 127.0.0.1)';

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
  const server = await MetricsServer.start({ host, port, sources });
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
    stop: () => server.stop(),
  };
}

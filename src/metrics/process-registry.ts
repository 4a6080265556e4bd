/**
 * The process's own metrics (process_cpu_seconds_total,
 * process_resident_memory_bytes, nodejs_eventloop_lag_seconds, ...), under
 * their standard names: one registry per process, shared by every role's
 * scrape. prom-client's collectors start an event-loop-delay monitor and a
 * GC observer that cannot be stopped, so they are set up once, not per role.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop-delay monitor samples (ms). prom-client's 10 ms
 * default would wake an idle peer 100 times a second; a tunnel daemon's lag
 * is worth a sample a second.
 */
const EVENT_LOOP_SAMPLE_MS = 1000;

/**
 * prom-client's gauges that end in _total, which Prometheus reserves for
 * counters (promtool's lint refuses them); each is the sum of the same
 * name without _total by `type`, which stays.
 */
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let shared: Registry | null = null;

export function processRegistry(): Registry {
  if (shared === null) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const name of MISNAMED) shared.removeSingleMetric(name);
  }
  return shared;
}

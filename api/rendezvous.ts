import type { Registry } from 'prom-client';
import { formatHostPort, type HostPort } from '../peer/endpoint-arg.js';
import { rendezvousRegistry, type RendezvousMetricsSource } from '../rendezvous/metrics.js';
import { rendezvousHealth, type RendezvousHealth } from '../rendezvous/health.js';
import { startRendezvous as startRendezvousServer, type Rendezvous } from '../rendezvous/rendezvous.js';
import type { RendezvousStats } from '../rendezvous/server.js';
import { dashboardToken as checkDashboardToken } from '../rendezvous/dashboard/access.js';
import { DASHBOARD_DEFAULTS, startDashboard, type DashboardServer } from '../rendezvous/dashboard/http-server.js';
import { BurrowError } from '../src/errors.js';
import { ClusterNode } from '../rendezvous/cluster/node.js';
import type { Logger } from '../src/log/logger.js';
import { checkOptions, loggerOrSilent, rendezvousOptions, toHostPort, type RendezvousOptions } from './options.js';
import type { RunState } from './peer-handle.js';

/** A running rendezvous: peers log in, meet, and relay through it. */
export class RunningRendezvous {
  private stopping: Promise<void> | null = null;
  private stopped = false;
  private registry: Registry | null = null;

  constructor(
    private readonly rendezvous: Rendezvous,
    /** The TCP address peers connect to (the port chosen, when 0 was asked for). */
    readonly address: HostPort,
    private readonly board: DashboardServer | null = null,
  ) {}

  /** Where the dashboard answers (the port chosen, when 0 was asked for); null without one. */
  get dashboardAddress(): HostPort | null {
    const a = this.board?.listening;
    return a ? { host: a.address, port: a.port } : null;
  }

  get state(): RunState {
    if (this.stopping === null) return 'running';
    return this.stopped ? 'stopped' : 'stopping';
  }

  /** Connections, peers, services, relay links and bytes, refusals. */
  get stats(): RendezvousStats {
    return this.rendezvous.stats;
  }

  /**
   * Its health now, as GET /health on its metrics server answers it: `ok`
   * (listening; in a cluster also Redis connected and the lease held), the
   * `reasons` when not, the connection, peer and service counts, and
   * `cluster` (null for a lone node). Nothing secret is in it.
   */
  health(): RendezvousHealth {
    return rendezvousHealth({
      listening: this.state === 'running' && this.rendezvous.tcp !== null,
      stats: this.rendezvous.stats,
      cluster: this.rendezvous.clusterHealth(),
    });
  }

  /** What its Prometheus metrics are read from: the stats and the STUN services' counts. */
  get metricsSource(): RendezvousMetricsSource {
    return this.rendezvous;
  }

  /**
   * Its Prometheus metrics (burrow_rendezvous_*), a prom-client Registry of
   * its own (never the global one), read at each scrape:
   * `await rv.metrics().metrics()`. The same registry on every call.
   */
  metrics(): Registry {
    this.registry ??= rendezvousRegistry(this.rendezvous);
    return this.registry;
  }

  /** Closes the listener, the STUN sockets and every connection; the same promise if called again. */
  stop(): Promise<void> {
    if (this.stopping === null) {
      this.stopping = Promise.all([this.board?.close(), this.rendezvous.close()]).then(() => {
        this.stopped = true;
      });
    }
    return this.stopping;
  }
}

/**
 * Starts a rendezvous and resolves once it listens: TCP for control and
 * relay, and (unless `udpPort: 'off'`) the two STUN UDP ports peers learn
 * their public addresses from. Rejects with ERR_CONFIG for a wrong option,
 * ERR_INVALID_ARGUMENT when the TCP address cannot be listened on and
 * ERR_SOCKET_BIND when the UDP ports cannot be bound; nothing is left open.
 */
export async function startRendezvous(options: RendezvousOptions): Promise<RunningRendezvous> {
  const fn = 'startRendezvous';
  const o = checkOptions(fn, rendezvousOptions, options);
  const listen = toHostPort(fn, 'listen', o.listen ?? '127.0.0.1:0');
  const dashboard = o.dashboard === undefined ? null : toHostPort(fn, 'dashboard', o.dashboard);
  // A token missing off loopback is a configuration error before anything listens.
  const dashboardToken = dashboard === null ? null : configError(fn, 'dashboardToken', () => checkDashboardToken(dashboard.host, o.dashboardToken));
  const cluster = o.cluster === undefined ? null : await joinCluster(fn, o.cluster, loggerOrSilent(o.logger));
  const rv = await startRendezvousServer({
    ...(cluster !== null ? { cluster } : {}),
    reportEveryMs: dashboard === null ? null : DASHBOARD_DEFAULTS.reportEveryMs,
    host: listen.host,
    port: listen.port,
    token: o.token,
    logger: loggerOrSilent(o.logger),
    tap: o.tap,
    limits: o.relayBytesPerSecond ? { relayBytesPerSecond: o.relayBytesPerSecond } : {},
    stun: o.udpPort === 'off' ? 'off' : { ...(o.udpPort !== undefined ? { port: o.udpPort } : {}), altAddress: o.altAddress ?? null },
  }).catch(async (err: unknown) => {
    // The rendezvous owns the node only once it is built: leave the cluster here.
    await cluster?.close();
    throw err;
  });
  const tcp = rv.tcp;
  let board: DashboardServer | null = null;
  if (dashboard !== null) {
    try {
      board = await startDashboard({ source: rv, host: dashboard.host, port: dashboard.port, token: dashboardToken, logger: loggerOrSilent(o.logger) });
    } catch (err) {
      await rv.close();
      throw err;
    }
  }
  return new RunningRendezvous(rv, { host: tcp?.address ?? listen.host, port: tcp?.port ?? listen.port }, board);
}

/** Connects to Redis and waits for this node's lease (ERR_CLUSTER_UNAVAILABLE when it cannot). */
async function joinCluster(fn: string, c: NonNullable<RendezvousOptions['cluster']>, logger: Logger): Promise<ClusterNode> {
  const advertise = formatHostPort(toHostPort(fn, 'cluster.advertise', c.advertise));
  const node = configError(fn, 'cluster', () => new ClusterNode({ redis: c.redis, nodeId: c.nodeId, advertise, secret: c.secret, logger }));
  await node.start();
  return node;
}

function configError<T>(fn: string, option: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new BurrowError('ERR_CONFIG', `${fn}: option "${option}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * `burrow -c FILE`: every role a config file names, in one process: the
 * metrics endpoint (if asked for) first, then the rendezvous, then the
 * providers and visitors (config-runtime.ts, which also reloads them), each
 * started through run.ts like its command would.
 */
import { readTrimmed } from './secret-file.js';
import { BurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import type { Inspectable } from './admin.js';
import type { ConfigFile } from './config.js';
import { ConfigRuntime } from './config-runtime.js';
import { startMetricsEndpoint } from './metrics.js';
import { runRendezvous, type ClusterCliOptions, type FatalHandler, type Running } from './run.js';
import { clusterFrom, type ClusterFlags, type ClusterSettingNames } from './cluster-flags.js';

/** loadConfig has checked that every role has its server and token; this keeps that promise typed. */
function checked(value: string | undefined, what: string): string {
  if (value === undefined) throw new BurrowError('ERR_CONFIG', `the config file has no ${what}`);
  return value;
}

/**
 * Starts them all, in order; returns what the process must stop on its way
 * out, and the runtime of the entries (to reload them). `path` is the file
 * `cfg` was read from, read again on reload.
 */
export async function runConfigFile(
  cfg: ConfigFile,
  path: string,
  log: Logger,
  onFatal: FatalHandler,
  peers: Inspectable[] = [],
): Promise<{ parts: Running[]; entries: ConfigRuntime }> {
  const parts: Running[] = [];
  // Checked (and the secret read) before anything starts: a wrong key changes nothing.
  const cluster = cfg.rendezvous ? clusterOf(cfg.rendezvous, path) : undefined;
  // Started before any role, so a bad address fails before anything runs.
  const metrics = cfg.metrics === undefined ? undefined : await startMetricsEndpoint(cfg.metrics, 'metrics', log);
  if (metrics) parts.push(metrics);
  if (cfg.rendezvous) {
    parts.push(
      await runRendezvous(
        {
          listen: cfg.rendezvous.listen,
          token: checked(cfg.rendezvous.token ?? cfg.token, '"token" for [rendezvous]'),
          ...(cfg.rendezvous.udp_port !== undefined ? { udpPort: String(cfg.rendezvous.udp_port) } : {}),
          ...(cfg.rendezvous.alt_address !== undefined ? { altAddress: cfg.rendezvous.alt_address } : {}),
          ...(cfg.rendezvous.dashboard !== undefined ? { dashboard: cfg.rendezvous.dashboard } : {}),
          ...(cfg.rendezvous.dashboard_token_file !== undefined ? { dashboardToken: readTrimmed(cfg.rendezvous.dashboard_token_file, 'dashboard_token_file', 'ERR_CONFIG') } : {}),
          cluster,
        },
        log.child({ component: 'rendezvous' }),
        metrics,
      ),
    );
  }
  const entries = new ConfigRuntime({ path, startup: cfg, log, onFatal, metrics, peers });
  await entries.start();
  parts.push(entries);
  return { parts, entries };
}

/** The file's [rendezvous] keys spelled as the cluster checks quote them. */
const TOML_NAMES: ClusterSettingNames = {
  cluster: 'cluster',
  nodeId: 'node_id',
  advertise: 'advertise',
  clusterSecretFile: 'cluster_secret_file',
  listen: 'listen',
  secretFrom: 'cluster_secret_file = "FILE"',
};

/** [rendezvous]'s cluster keys, checked as the flags are (clusterFrom); an error is ERR_CONFIG naming the file. */
function clusterOf(r: NonNullable<ConfigFile['rendezvous']>, path: string): ClusterCliOptions | undefined {
  const given: ClusterFlags = {
    ...(r.cluster !== undefined ? { cluster: r.cluster } : {}),
    ...(r.node_id !== undefined ? { nodeId: r.node_id } : {}),
    ...(r.advertise !== undefined ? { advertise: r.advertise } : {}),
    ...(r.cluster_secret_file !== undefined ? { clusterSecretFile: r.cluster_secret_file } : {}),
  };
  try {
    return clusterFrom(given, r.listen, TOML_NAMES);
  } catch (err) {
    if (err instanceof BurrowError) throw new BurrowError('ERR_CONFIG', `${path}: [rendezvous] ${err.message}`, { cause: err });
    throw err;
  }
}


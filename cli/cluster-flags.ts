import { readTrimmed } from './secret-file.js';
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { BurrowError } from '../src/errors.js';
import { NODE_ID } from '../rendezvous/cluster/keys.js';
import { parseHostPort } from '../peer/endpoint-arg.js';
import type { ClusterCliOptions } from './run.js';

/** The rendezvous's cluster flags as commander parses them. */
export interface ClusterFlags {
  cluster?: string;
  nodeId?: string;
  advertise?: string;
  clusterSecret?: string;
  clusterSecretFile?: string;
}

/** Adds --cluster, --node-id, --advertise and the cluster secret's flags to `burrow rendezvous`. */
export function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--cluster <redis-url>', 'join a cluster of rendezvous nodes sharing this Redis (redis://[:PASSWORD@]HOST:PORT[/DB], rediss://..., or a unix socket path); off by default')
    .option('--node-id <id>', 'this node\'s name in the cluster (1-63 letters, digits, ".", "_", "-"); default: the host name')
    .option('--advertise <host:port>', 'where peers (and other nodes) reach this node; default: --listen when it is not a wildcard')
    .addOption(new Option('--cluster-secret <secret>', 'the secret every node of the cluster shares (16+ characters)').env('BURROW_CLUSTER_SECRET'))
    .option('--cluster-secret-file <file>', 'read the cluster secret from a file instead');
}

/**
 * How the user gave the cluster settings, for the errors to quote them as
 * written: the rendezvous's flags, or a config file's [rendezvous] keys.
 */
export interface ClusterSettingNames {
  readonly cluster: string;
  readonly nodeId: string;
  readonly advertise: string;
  readonly clusterSecretFile: string;
  readonly listen: string;
  /** Where the secret can come from. */
  readonly secretFrom: string;
}

export const CLUSTER_FLAG_NAMES: ClusterSettingNames = {
  cluster: '--cluster',
  nodeId: '--node-id',
  advertise: '--advertise',
  clusterSecretFile: '--cluster-secret-file',
  listen: '--listen',
  secretFrom: '--cluster-secret-file FILE or BURROW_CLUSTER_SECRET',
};

/**
 * The cluster to join, or undefined without `cluster`. A cluster setting
 * without `cluster` is an error rather than ignored: the user meant a
 * cluster. Errors are ERR_INVALID_ARGUMENT and name the settings as `names`
 * spells them.
 */
export function clusterFrom(flags: ClusterFlags, listen: string, names: ClusterSettingNames = CLUSTER_FLAG_NAMES): ClusterCliOptions | undefined {
  if (flags.cluster === undefined) {
    const stray = (['nodeId', 'advertise', 'clusterSecretFile'] as const).find((k) => flags[k] !== undefined);
    if (stray !== undefined) throw new BurrowError('ERR_INVALID_ARGUMENT', `${names[stray]} needs ${names.cluster} <redis-url>`);
    return undefined;
  }
  const nodeId = flags.nodeId ?? defaultNodeId(names);
  if (!NODE_ID.test(nodeId)) throw new BurrowError('ERR_INVALID_ARGUMENT', `${names.nodeId} "${nodeId.slice(0, 80)}" must be 1-63 letters, digits, ".", "_" or "-"`);
  return { redis: flags.cluster, nodeId, advertise: advertiseFrom(flags.advertise, listen, names), secret: clusterSecret(flags, names) };
}

function advertiseFrom(given: string | undefined, listen: string, names: ClusterSettingNames): string {
  if (given !== undefined) {
    parseHostPort(given, names.advertise);
    return given;
  }
  const l = parseHostPort(listen, names.listen);
  if (l.host === '0.0.0.0' || l.host === '::' || l.port === 0) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${names.advertise} HOST:PORT is required with ${names.cluster} when ${names.listen} is ${listen}: other nodes send visitors there`);
  }
  return listen;
}

function clusterSecret(flags: ClusterFlags, names: ClusterSettingNames): string {
  let secret = flags.clusterSecret;
  if (flags.clusterSecretFile !== undefined) {
    secret = readTrimmed(flags.clusterSecretFile, names.clusterSecretFile);
  }
  if (secret === undefined || secret === '') throw new BurrowError('ERR_INVALID_ARGUMENT', `${names.cluster} needs the cluster secret: ${names.secretFrom}`);
  if (secret.length < 16) throw new BurrowError('ERR_INVALID_ARGUMENT', 'the cluster secret must be at least 16 characters (e.g. openssl rand -hex 32)');
  return secret;
}

function defaultNodeId(names: ClusterSettingNames): string {
  const h = hostname().split('.')[0] ?? '';
  if (NODE_ID.test(h)) return h;
  throw new BurrowError('ERR_INVALID_ARGUMENT', `the host name "${h.slice(0, 80)}" is not a valid node id: give ${names.nodeId}`);
}

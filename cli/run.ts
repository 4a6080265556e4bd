import { createWriteStream } from 'node:fs';
import { BurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { SERVICE_NAME } from '../src/control/messages.js';
import { startProvider, startRendezvous, startVisitor } from '../api/index.js';
import type { RunningProvider } from '../api/provider.js';
import type { RunningVisitor } from '../api/visitor.js';
import type { DirectOptions } from '../api/options.js';
import { parseHostPort } from '../peer/endpoint-arg.js';
import { parseServerList } from '../peer/server-list.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import type { MetricsEndpoint } from './metrics.js';
import { healthStatus } from '../rendezvous/health.js';

/** What a running role offers the process: a way to stop, and a way to fail. */
export interface Running {
  stop(): Promise<void> | void;
}

export type FatalHandler = (err: BurrowError) => void;

/** What a service carries, and a UDP service's flow settings (absent: the defaults). */
export interface UdpFlags {
  proto?: 'tcp' | 'udp';
  udpIdleSeconds?: number;
  udpFlows?: number;
}

function udpOptions(opts: UdpFlags): UdpFlags {
  return {
    ...(opts.proto !== undefined ? { proto: opts.proto } : {}),
    ...(opts.udpIdleSeconds !== undefined ? { udpIdleSeconds: opts.udpIdleSeconds } : {}),
    ...(opts.udpFlows !== undefined ? { udpFlows: opts.udpFlows } : {}),
  };
}

export function checkMode(mode: string | undefined): void {
  if (mode === undefined || mode === 'stcp' || mode === 'xtcp') return;
  throw new BurrowError('ERR_INVALID_ARGUMENT', `--mode must be "xtcp" (direct, relay fallback) or "stcp" (relay only), got "${mode}"`);
}

export function checkName(name: string): string {
  if (!SERVICE_NAME.test(name)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `service name "${name}" is invalid: use 1-63 letters, digits, ".", "_" or "-"`);
  }
  return name;
}

export function required(value: string | undefined, flag: string, env?: string): string {
  if (value === undefined || value === '') {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${flag} is required${env ? ` (or set ${env})` : ''}`);
  }
  return value;
}

export interface RendezvousCliOptions {
  listen: string;
  token: string;
  tap?: string | undefined;
  relayRate?: number;
  /** UDP (STUN) port: a number, "off", or undefined = the TCP port's number. */
  udpPort?: string | undefined;
  /** Second local address for RFC 5780 NAT discovery (change-IP answers). */
  altAddress?: string | undefined;
  /** Serve the dashboard here (HOST:PORT), with this token (required off loopback). */
  dashboard?: string | undefined;
  dashboardToken?: string | undefined;
  /** Join a cluster (see ClusterCliOptions); undefined = run alone. */
  cluster?: ClusterCliOptions | undefined;
}

/** --cluster, --node-id, --advertise and the cluster secret, as given. */
export interface ClusterCliOptions {
  redis: string;
  nodeId: string;
  advertise: string;
  secret: string;
}

/** "off" -> null; undefined -> the TCP port; else a port number (0 = any free pair). */
export function parseUdpPort(text: string | undefined, tcpPort: number): number | null {
  if (text === undefined) return tcpPort;
  if (text === 'off') return null;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65534) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--udp-port must be a port number (0-65534; PORT+1 is used too) or "off", got "${text}"`);
  }
  return Number(text);
}

export async function runRendezvous(opts: RendezvousCliOptions, log: Logger, metrics?: MetricsEndpoint): Promise<Running> {
  const listen = parseHostPort(opts.listen, '--listen');
  const udpPort = parseUdpPort(opts.udpPort, listen.port);
  if (udpPort === null && opts.altAddress) throw new BurrowError('ERR_INVALID_ARGUMENT', '--alt-address needs the UDP port (not --udp-port off)');
  let tap: ((dir: 'in' | 'out', bytes: Buffer) => void) | undefined;
  let tapFile: ReturnType<typeof createWriteStream> | undefined;
  if (opts.tap) {
    tapFile = createWriteStream(opts.tap, { flags: 'a' });
    const file = tapFile;
    tap = (_dir, bytes) => void file.write(bytes);
    log.warn('tap-enabled', { file: opts.tap, note: 'every byte the rendezvous sends or receives is appended to this file' });
  }
  const rendezvous = await startRendezvous({
    listen,
    token: opts.token,
    logger: log,
    ...(tap ? { tap } : {}),
    ...(opts.relayRate ? { relayBytesPerSecond: opts.relayRate } : {}),
    // Without --udp-port, "any free port" means one number for TCP and UDP both.
    ...(udpPort === null ? { udpPort: 'off' as const } : opts.udpPort !== undefined ? { udpPort } : {}),
    ...(opts.altAddress !== undefined ? { altAddress: opts.altAddress } : {}),
    ...(opts.dashboard !== undefined ? { dashboard: parseHostPort(opts.dashboard, '--dashboard') } : {}),
    ...(opts.dashboardToken !== undefined ? { dashboardToken: opts.dashboardToken } : {}),
    ...(opts.cluster !== undefined ? { cluster: { ...opts.cluster, advertise: parseHostPort(opts.cluster.advertise, '--advertise') } } : {}),
  }).catch((err: unknown) => {
    tapFile?.end();
    if (err instanceof BurrowError && err.code === 'ERR_SOCKET_BIND') {
      throw new BurrowError('ERR_SOCKET_BIND', `${err.message} (the STUN port; choose another with --udp-port N, or --udp-port off)`, { cause: err });
    }
    throw err;
  });
  metrics?.add(rendezvous.metrics());
  metrics?.setHealth(() => {
    const h = rendezvous.health();
    return { status: healthStatus(h), body: h };
  });
  return {
    async stop() {
      await rendezvous.stop();
      tapFile?.end();
    },
  };
}

export async function runProvider(
  opts: { server: string; token: string; name: string; secret: string; to: string; mode?: 'xtcp' | 'stcp'; direct?: DirectOptions } & UdpFlags,
  log: Logger,
  onFatal: FatalHandler,
  metrics?: MetricsEndpoint,
): Promise<RunningProvider> {
  const provider = await startProvider({
    server: parseServerList(opts.server, '--server'),
    token: opts.token,
    services: [{ name: checkName(opts.name), secret: opts.secret, to: parseHostPort(opts.to, '--to', '127.0.0.1'), ...udpOptions(opts) }],
    logger: log.child({ service: opts.name }),
    mode: opts.mode ?? PEER_DEFAULTS.mode,
    ...(opts.direct ? { direct: opts.direct } : {}),
    // A CLI provider starts before its rendezvous, too: it keeps trying in the background.
    startTimeoutMs: 0,
  });
  provider.on('fatal', onFatal);
  metrics?.peers('provider').push(provider.metricsSource);
  log.info('provider-started', { service: opts.name, to: opts.to, proto: opts.proto ?? 'tcp', server: opts.server, mode: opts.mode ?? PEER_DEFAULTS.mode });
  return provider;
}

export async function runVisitor(
  opts: {
    server: string;
    token: string;
    name: string;
    secret: string;
    listen: string;
    mode?: 'xtcp' | 'stcp';
    relay?: 'fallback' | 'never';
    direct?: DirectOptions;
  } & UdpFlags,
  log: Logger,
  onFatal: FatalHandler,
  metrics?: MetricsEndpoint,
): Promise<RunningVisitor> {
  const listenText = /^\d+$/.test(opts.listen) ? `127.0.0.1:${opts.listen}` : opts.listen;
  const visitor = await startVisitor({
    server: parseServerList(opts.server, '--server'),
    token: opts.token,
    name: checkName(opts.name),
    secret: opts.secret,
    listen: parseHostPort(listenText, '--listen', '127.0.0.1'),
    logger: log.child({ service: opts.name }),
    mode: opts.mode ?? PEER_DEFAULTS.mode,
    relay: opts.relay ?? PEER_DEFAULTS.relay,
    ...(opts.direct ? { direct: opts.direct } : {}),
    ...udpOptions(opts),
  });
  visitor.on('fatal', onFatal);
  metrics?.peers('visitor').push(visitor.metricsSource);
  return visitor;
}

/**
 * `burrow -c FILE`: every role a config file names, in one process: the
 * metrics endpoint (if asked for) first, then the rendezvous, the providers
 * and the visitors, each started through run.ts like its command would.
 */
import { BurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import type { Inspectable } from './admin.js';
import type { ConfigFile } from './config.js';
import { startMetricsEndpoint } from './metrics.js';
import { portmapAllowed } from './portmap-switch.js';
import { runProvider, runRendezvous, runVisitor, type FatalHandler, type Running, type UdpFlags } from './run.js';

/** A [[provide]]/[[visit]] entry's proto and UDP flow fields, as run.ts takes them. */
function udpFields(e: { proto?: 'tcp' | 'udp' | undefined; udp_idle?: number | undefined; udp_flows?: number | undefined }): UdpFlags {
  return {
    ...(e.proto !== undefined ? { proto: e.proto } : {}),
    ...(e.udp_idle !== undefined ? { udpIdleSeconds: e.udp_idle } : {}),
    ...(e.udp_flows !== undefined ? { udpFlows: e.udp_flows } : {}),
  };
}

/** loadConfig has checked that every role has its server and token; this keeps that promise typed. */
function checked(value: string | undefined, what: string): string {
  if (value === undefined) throw new BurrowError('ERR_CONFIG', `the config file has no ${what}`);
  return value;
}

/** Starts them all, in order; returns what the process must stop on its way out. */
export async function runConfigFile(cfg: ConfigFile, log: Logger, onFatal: FatalHandler, peers: Inspectable[] = []): Promise<Running[]> {
  const parts: Running[] = [];
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
        },
        log.child({ component: 'rendezvous' }),
        metrics,
      ),
    );
  }
  for (const p of cfg.provide ?? []) {
    const peer = await runProvider(
      {
        server: checked(p.server ?? cfg.server, `"server" for ${p.name}`),
        token: checked(p.token ?? cfg.token, `"token" for ${p.name}`),
        name: p.name,
        secret: p.secret,
        to: p.to,
        mode: p.mode ?? PEER_DEFAULTS.mode,
        direct: { portmap: portmapAllowed(p.portmap ?? cfg.portmap ?? true) },
        ...udpFields(p),
      },
      log.child({ component: 'provider' }),
      onFatal,
      metrics,
    );
    peers.push(peer);
    parts.push(peer);
  }
  for (const v of cfg.visit ?? []) {
    const peer = await runVisitor(
      {
        server: checked(v.server ?? cfg.server, `"server" for ${v.name}`),
        token: checked(v.token ?? cfg.token, `"token" for ${v.name}`),
        name: v.name,
        secret: v.secret,
        listen: v.listen,
        mode: v.mode ?? PEER_DEFAULTS.mode,
        relay: v.relay ?? PEER_DEFAULTS.relay,
        direct: { portmap: portmapAllowed(v.portmap ?? cfg.portmap ?? true) },
        ...udpFields(v),
      },
      log.child({ component: 'visitor' }),
      onFatal,
      metrics,
    );
    peers.push(peer);
    parts.push(peer);
  }
  return parts;
}

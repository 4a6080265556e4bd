/**
 * The API's option schemas, checked with zod before anything starts. The
 * TOML config (cli/config.ts) builds on the same field schemas, so a service
 * name or an address is valid in one exactly when it is valid in the other.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { BurrowError } from '../src/errors.js';
import { SERVICE_NAME } from '../src/control/messages.js';
import { UDP_FLOW_LIMITS, UDP_FLOW_TIMERS } from '../src/udp/index.js';
import { Logger } from '../src/log/logger.js';
import type { DirectConfig } from '../peer/direct-setup.js';
import { parseHostPort, type HostPort } from '../peer/endpoint-arg.js';
import { MAX_SERVERS, dedupe, parseServerList } from '../peer/server-list.js';
import { NODE_ID } from '../rendezvous/cluster/keys.js';

export const hostPortText = z
  .string()
  .regex(/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT')
  .refine((s) => !(Number(s.slice(s.lastIndexOf(':') + 1)) > 65535), 'port must be 0-65535');
export const modeSchema = z.enum(['xtcp', 'stcp'], { message: 'mode must be "xtcp" (direct, relay fallback) or "stcp" (relay only)' });
export const protoSchema = z.enum(['tcp', 'udp'], { message: 'proto must be "tcp" (connections as streams) or "udp" (datagrams in flows)' });
/** Seconds a UDP flow may be idle; the range is UDP_FLOW_TIMERS' (peer/udp/udp-settings.ts checks the same). */
export const udpIdleSchema = z
  .number()
  .min(UDP_FLOW_TIMERS.minIdleMs / 1000, `udp idle must be at least ${UDP_FLOW_TIMERS.minIdleMs / 1000} s`)
  .max(UDP_FLOW_TIMERS.maxIdleMs / 1000, `udp idle must be at most ${UDP_FLOW_TIMERS.maxIdleMs / 1000} s`);
export const udpFlowsSchema = z.number().int().min(1).max(UDP_FLOW_LIMITS.maxFlowsCeiling, `udp flows must be at most ${UDP_FLOW_LIMITS.maxFlowsCeiling}`);
export const relaySchema = z.enum(['fallback', 'never'], { message: 'relay must be "fallback" or "never"' });
export const serviceName = z.string().regex(SERVICE_NAME, 'service names are 1-63 letters, digits, ".", "_" or "-"');
export const secretSchema = z.string().min(1, 'secret must not be empty');
/** A rendezvous node's name in its cluster. */
export const nodeIdSchema = z.string().regex(NODE_ID, 'must be 1-63 letters, digits, ".", "_" or "-"');
const tokenSchema = z.string().min(1, 'token must not be empty');

/** "host:port", "[v6]:port", or { host, port }. */
export type Endpoint = string | HostPort;
const endpoint = z.union([hostPortText, z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535) })], {
  message: 'must be "HOST:PORT" (IPv6 in brackets) or { host, port }',
});
/** "a:7000" or "a:7000,b:7000" (several rendezvous nodes; the next is used when one fails). */
export const serverListText = z.string().superRefine((s, ctx) => {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) ctx.addIssue({ code: 'custom', message: 'must be HOST:PORT, or several separated by commas' });
  for (const part of parts) {
    const r = hostPortText.safeParse(part);
    // Each entry's own complaint ("must be HOST:PORT", "port must be 0-65535"), naming the entry when there are several.
    for (const issue of r.success ? [] : r.error.issues) {
      ctx.addIssue({ code: 'custom', message: parts.length > 1 ? `"${part}": ${issue.message}` : issue.message });
    }
  }
});
/** The rendezvous: one endpoint, a comma-separated list, or an array of endpoints. */
export type Servers = string | HostPort | readonly Endpoint[];
const servers = z.union([serverListText, endpoint, z.array(endpoint).min(1).max(MAX_SERVERS)], {
  message: `must be "HOST:PORT", several separated by commas, or an array of up to ${MAX_SERVERS} endpoints`,
});
const logger = z.instanceof(Logger, { message: 'must be a Logger (new Logger({ sink, format, level }))' }).optional();

function isIpPort(s: string): boolean {
  try {
    return isIP(parseHostPort(s, 'stun').host) !== 0;
  } catch {
    return false;
  }
}

const direct = z.strictObject({
  /** Ask the home router (NAT-PMP, PCP, UPnP IGD) for a port mapping of each session socket. Default false. */
  portmap: z.boolean().optional(),
  /** Offer this machine's interface addresses as candidates. Default true. */
  lan: z.boolean().optional(),
  /** Birthday probing against a random-port symmetric NAT. Default true. */
  birthday: z.boolean().optional(),
  keepaliveSeconds: z.number().min(1).max(3600).optional(),
  /** The rendezvous's STUN port, when it is not its TCP port's number. */
  serverUdpPort: z.number().int().min(1).max(65534).optional(),
  /** More STUN servers, "IP:PORT". */
  stun: z.array(hostPortText.refine(isIpPort, 'a STUN server must be IP:PORT')).optional(),
});
export type DirectOptions = z.input<typeof direct>;

/** A UDP service's flows: idle time (seconds, default 60) and how many per session (default 1024). */
const udpKnobs = {
  udpIdleSeconds: udpIdleSchema.optional(),
  udpFlows: udpFlowsSchema.optional(),
};

const peer = {
  server: servers,
  token: tokenSchema,
  mode: modeSchema.optional(),
  direct: direct.optional(),
  logger,
};

export const providerOptions = z.strictObject({
  ...peer,
  /** What the services carry unless one says otherwise. Default 'tcp'. */
  proto: protoSchema.optional(),
  ...udpKnobs,
  services: z
    .array(z.strictObject({ name: serviceName, secret: secretSchema, to: endpoint, proto: protoSchema.optional(), ...udpKnobs }))
    .min(1, 'give at least one service'),
  /** How long start waits for the rendezvous to confirm the registration; 0 = do not wait. Default 15 s. */
  startTimeoutMs: z.number().int().min(0).optional(),
});
export type ProviderOptions = z.input<typeof providerOptions>;

export const visitorOptions = z.strictObject({
  ...peer,
  name: serviceName,
  secret: secretSchema,
  /** Where local applications connect. Default 127.0.0.1 on a free port. */
  listen: endpoint.optional(),
  relay: relaySchema.optional(),
  /** 'tcp' (default): a TCP port, each connection a stream. 'udp': a UDP port, each client address:port a flow of datagrams. */
  proto: protoSchema.optional(),
  ...udpKnobs,
});
export type VisitorOptions = z.input<typeof visitorOptions>;

export const rendezvousOptions = z.strictObject({
  /** TCP (control, relay) and, by default, the STUN UDP ports' address. Default 127.0.0.1 on a free port. */
  listen: endpoint.optional(),
  token: tokenSchema,
  /** STUN's UDP port (PORT+1 is used too); 'off' for none. Default: the TCP port's number. */
  udpPort: z.union([z.number().int().min(0).max(65534), z.literal('off')]).optional(),
  /** A second local address: full RFC 5780 NAT discovery. */
  altAddress: z.string().refine((s) => isIP(s) !== 0, 'must be an IP address').optional(),
  /** Cap each relay link at this many bytes per second per direction (0 = no cap). */
  relayBytesPerSecond: z.number().int().min(0).optional(),
  /**
   * Serve the live dashboard here ("127.0.0.1:8080"); off unless given. Off
   * loopback it needs `dashboardToken` (16+ characters).
   */
  dashboard: endpoint.optional(),
  dashboardToken: z.string().optional(),
  /**
   * Join a cluster of rendezvous nodes sharing one Redis (off unless given):
   * `redis` its URL (redis://[:password@]host:port[/db], rediss://, or a unix
   * socket path), `nodeId` this node's name in the cluster, `advertise` the
   * HOST:PORT where peers and other nodes reach this node, `secret` the
   * cluster secret every node shares (16+ characters).
   */
  cluster: z
    .strictObject({
      redis: z.string().min(1),
      nodeId: nodeIdSchema,
      advertise: endpoint,
      secret: z.string().min(16, 'must be at least 16 characters'),
    })
    .optional(),
  /** Sees every byte the rendezvous receives ('in') or sends ('out'): an audit hook. */
  tap: z.custom<(direction: 'in' | 'out', bytes: Buffer) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  logger,
});
export type RendezvousOptions = z.input<typeof rendezvousOptions>;

/** Parses `input` or throws ERR_CONFIG naming every wrong option. */
export function checkOptions<S extends z.ZodType>(fn: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => (i.path.length > 0 ? `option "${i.path.join('.')}": ${i.message}` : i.message));
  throw new BurrowError('ERR_CONFIG', `${fn}: ${lines.join('; ')}`);
}

/** An endpoint the schema accepted, as a HostPort (a bad IPv6 literal still fails here, as ERR_CONFIG). */
export function toHostPort(fn: string, option: string, e: Endpoint, defaultHost?: string): HostPort {
  if (typeof e !== 'string') return { host: e.host, port: e.port };
  try {
    return parseHostPort(e, option, defaultHost);
  } catch (err) {
    throw new BurrowError('ERR_CONFIG', `${fn}: option "${option}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The rendezvous option as the peers take it: a list, in order, without repeats. */
export function toServerList(fn: string, option: string, s: z.output<typeof servers>): HostPort[] {
  if (Array.isArray(s)) return dedupe(s.map((e, i) => toHostPort(fn, `${option}.${i}`, e)));
  if (typeof s !== 'string') return [{ host: s.host, port: s.port }];
  try {
    return parseServerList(s, option);
  } catch (err) {
    throw new BurrowError('ERR_CONFIG', `${fn}: option "${option}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The API's direct-path options as the peers take them. Port mapping stays off unless asked for. */
export function toDirectConfig(d: z.output<typeof direct> | undefined): DirectConfig {
  const cfg: DirectConfig = { portmap: d?.portmap ?? false };
  const options: NonNullable<DirectConfig['options']> = {};
  if (d?.lan !== undefined) options.hostCandidates = d.lan;
  if (d?.birthday !== undefined) options.birthday = d.birthday;
  if (d?.keepaliveSeconds !== undefined) options.keepaliveMs = d.keepaliveSeconds * 1000;
  if (Object.keys(options).length > 0) cfg.options = options;
  if (d?.serverUdpPort !== undefined) cfg.udpPort = d.serverUdpPort;
  if (d?.stun) {
    cfg.stunServers = d.stun.map((s) => {
      const hp = parseHostPort(s, 'stun');
      return { address: hp.host, port: hp.port };
    });
  }
  return cfg;
}

/** An embedding program hears nothing unless it passes a logger: failures come as events and rejections. */
export function loggerOrSilent(logger: Logger | undefined): Logger {
  return logger ?? new Logger({ level: 'error', sink: { write() {} } });
}

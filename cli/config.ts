import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BurrowError } from '../src/errors.js';
import { hostPortText, modeSchema, nodeIdSchema, protoSchema, secretSchema, serverListText, serviceName, udpFlowsSchema, udpIdleSchema } from '../api/options.js';

/**
 * `burrow -c FILE`: one TOML file describing what this machine runs, as frp
 * users are used to. Every key is checked; an unknown key is an error, not a
 * silent typo.
 *
 *   server = "rendezvous.example.com:7000"    # or "a:7000,b:7000": several nodes
 *   token = "..."
 *
 *   [[provide]]
 *   name = "nas"
 *   secret = "..."
 *   to = "192.168.1.10:5000"
 *
 *   [[visit]]
 *   name = "nas"
 *   secret = "..."
 *   listen = "127.0.0.1:5000"
 *
 * `metrics = "127.0.0.1:9100"` (top level) serves Prometheus metrics of
 * everything the file runs at http://HOST:PORT/metrics.
 *
 * `admin = "PATH"` (top level; "off" for none) is the admin socket `burrow
 * status` asks (--admin); by default one in $XDG_RUNTIME_DIR/burrow.
 *
 * `proto = "udp"` in a [[provide]] or [[visit]] carries a UDP service
 * (datagrams in flows), with `udp_idle` (seconds) and `udp_flows` (per
 * session) for its flows.
 *
 * `portmap = false` (top level, or in one [[provide]]/[[visit]]) stops xtcp
 * sessions from asking the home router for a port mapping (--no-portmap).
 *
 * A rendezvous node of a cluster (its flags' keys; restart-only, like all
 * of [rendezvous]):
 *
 *   [rendezvous]
 *   listen = "[::]:7000"
 *   cluster = "redis://:PASSWORD@10.0.0.5:6379"
 *   node_id = "rv1"                           # default: the host name
 *   advertise = "rv1.example.com:7000"        # default: listen, unless a wildcard
 *   cluster_secret_file = "/etc/burrow/cluster-secret"
 */
// The same field schemas as the API's options: one definition of a valid address, mode, name and secret.
const hostPort = hostPortText;
const mode = modeSchema;
const name = serviceName;
const secret = secretSchema;
const udp = { proto: protoSchema.optional(), udp_idle: udpIdleSchema.optional(), udp_flows: udpFlowsSchema.optional() };

export const ConfigFile = z.strictObject({
  server: serverListText.optional(),
  token: z.string().min(1).optional(),
  log_format: z.enum(['text', 'json']).optional(),
  log_level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  portmap: z.boolean().optional(),
  metrics: hostPort.optional(),
  admin: z.string().min(1).optional(),
  rendezvous: z
    .strictObject({
      listen: hostPort,
      token: z.string().min(1).optional(),
      udp_port: z.union([z.number().int().min(0).max(65534), z.literal('off')]).optional(),
      alt_address: z.string().optional(),
      /** The live dashboard's HOST:PORT, and the file holding its token (required off loopback). */
      dashboard: hostPort.optional(),
      dashboard_token_file: z.string().min(1).optional(),
      /** Join a cluster on this Redis (as --cluster), with the node's id, advertised address and the file holding the cluster secret. */
      cluster: z.string().min(1).optional(),
      node_id: nodeIdSchema.optional(),
      advertise: hostPort.optional(),
      cluster_secret_file: z.string().min(1).optional(),
    })
    .optional(),
  provide: z
    .array(z.strictObject({ name, secret, to: hostPort, mode: mode.optional(), ...udp, portmap: z.boolean().optional(), server: serverListText.optional(), token: z.string().optional() }))
    .optional(),
  visit: z
    .array(z.strictObject({ name, secret, listen: hostPort, mode: mode.optional(), ...udp, relay: z.enum(['fallback', 'never']).optional(), portmap: z.boolean().optional(), server: serverListText.optional(), token: z.string().optional() }))
    .optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BurrowError('ERR_CONFIG', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new BurrowError('ERR_CONFIG', `${path} is not valid TOML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = ConfigFile.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new BurrowError('ERR_CONFIG', `${path} has errors:\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const needsServer = (cfg.provide?.length ?? 0) + (cfg.visit?.length ?? 0) > 0;
  const missing: string[] = [];
  for (const e of [...(cfg.provide ?? []), ...(cfg.visit ?? [])]) {
    if (!(e.server ?? cfg.server)) missing.push(`"server" for ${e.name}`);
    if (!(e.token ?? cfg.token)) missing.push(`"token" for ${e.name}`);
  }
  if (cfg.rendezvous && !(cfg.rendezvous.token ?? cfg.token)) missing.push('"token" for [rendezvous]');
  const udpOnly = [...(cfg.provide ?? []), ...(cfg.visit ?? [])].filter((e) => e.proto !== 'udp' && (e.udp_idle !== undefined || e.udp_flows !== undefined));
  if (udpOnly.length > 0) throw new BurrowError('ERR_CONFIG', `${path}: udp_idle and udp_flows are for proto = "udp" (in ${udpOnly.map((e) => e.name).join(', ')})`);
  if (missing.length > 0) throw new BurrowError('ERR_CONFIG', `${path} is missing ${missing.join(', ')}`);
  if (!needsServer && !cfg.rendezvous) {
    throw new BurrowError('ERR_CONFIG', `${path} runs nothing: add [[provide]], [[visit]] or [rendezvous]`);
  }
  return cfg;
}

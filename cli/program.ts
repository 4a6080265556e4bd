import { isIP } from 'node:net';
import type { DirectOptions } from '../api/options.js';
import { releasePortMappings } from '../peer/direct-link.js';
import { formatHostPort, parseHostPort } from '../peer/endpoint-arg.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import { Command, Option } from 'commander';
import { BurrowError, isBurrowError } from '../src/errors.js';
import { PORTMAP_TIMERS } from '../src/portmap/index.js';
import { portmapAllowed } from './portmap-switch.js';
import { makeLogger, type LogFlags } from './logging.js';
import { loadConfig } from './config.js';
import { checkMode, required, runProvider, runRendezvous, runVisitor, type Running, type UdpFlags } from './run.js';
import { DEFAULT_UDP_SETTINGS, udpSettings } from '../peer/udp/udp-settings.js';
import { runDemo } from './demo.js';
import { addNatCommand } from './nat.js';
import { METRICS_HELP, RENDEZVOUS_METRICS_HELP, withMetrics } from './metrics.js';
import { runConfigFile } from './config-run.js';
import type { ConfigRuntime } from './config-runtime.js';
import { ADMIN_HELP, withAdmin } from './admin.js';
import { addStatusCommand } from './status.js';
import { addReloadCommand } from './reload.js';
import { readSecretFile } from './secret-file.js';
import { addClusterOptions, clusterFrom, type ClusterFlags } from './cluster-flags.js';

const EXIT_USAGE = 2;
const EXIT_FATAL = 1;
/** On exit, wait this long at most for routers to confirm released mappings (one release round trip, plus a map still under way). */
const PORTMAP_RELEASE_ON_EXIT_MS = 2 * PORTMAP_TIMERS.releaseTimeoutMs;


function secretFrom(opts: { secret?: string; secretFile?: string }): string {
  if (opts.secretFile) return readSecretFile(opts.secretFile, '--secret-file');
  return required(opts.secret, '--secret', 'BURROW_SECRET or use --secret-file');
}

function tokenFrom(opts: { token?: string; tokenFile?: string }): string {
  if (opts.tokenFile) return readSecretFile(opts.tokenFile, '--token-file');
  return required(opts.token, '--token', 'BURROW_TOKEN or use --token-file');
}

/**
 * Keeps the process up until SIGINT/SIGTERM or a fatal error, then stops
 * everything. With a config file's entries, SIGHUP reloads them (the
 * outcome is logged; a bad file changes nothing).
 */
function supervise(parts: Running[], fatal: Promise<BurrowError>, reloadable: ConfigRuntime | null = null): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    // While stopping, a SIGHUP still lands here (and is refused), instead of killing the process half-way.
    if (reloadable) process.on('SIGHUP', () => void reloadable.reload().catch(() => {})); // the runtime logged why
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      await Promise.allSettled(parts.map((p) => p.stop()));
      // The sessions closed: give their router port mappings back before the process ends (bounded).
      await releasePortMappings(PORTMAP_RELEASE_ON_EXIT_MS);
      resolve(code);
    };
    process.once('SIGINT', () => void stop(0));
    process.once('SIGTERM', () => void stop(0));
    void fatal.then(() => stop(EXIT_FATAL));
  });
}

function fatalChannel(): { promise: Promise<BurrowError>; report: (err: BurrowError) => void } {
  let report!: (err: BurrowError) => void;
  const promise = new Promise<BurrowError>((resolve) => (report = resolve));
  return { promise, report };
}

const logOptions = (cmd: Command): Command =>
  cmd
    .addOption(new Option('--log-format <format>', 'log lines as readable text or JSON').choices(['text', 'json']).default('text'))
    .addOption(new Option('--log-level <level>', 'least important level logged').choices(['debug', 'info', 'warn', 'error']).default('info'));

const peerOptions = (cmd: Command): Command =>
  cmd
    .option('--metrics <host:port>', METRICS_HELP)
    .option('--admin <path|off>', ADMIN_HELP)
    .addOption(
      new Option(
        '--server <host:port[,host:port...]>',
        'the rendezvous server (a name is tried over IPv6 and IPv4; an IPv6 address in brackets: [2001:db8::7]:7000); several nodes separated by commas: the next is used when one fails',
      ).env('BURROW_SERVER'),
    )
    .addOption(new Option('--token <token>', 'the rendezvous token (proven, never sent)').env('BURROW_TOKEN'))
    .option('--token-file <file>', 'read the rendezvous token from a file instead (e.g. a systemd credential)')
    .requiredOption('--name <name>', 'service name, shared by provider and visitor')
    .addOption(new Option('--secret <secret>', 'service secret: only holders can connect; never leaves this machine').env('BURROW_SECRET'))
    .option('--secret-file <file>', 'read the service secret from a file instead')
    .addOption(
      new Option('--mode <mode>', 'xtcp: direct peer-to-peer by UDP hole punching, relayed meanwhile and when punching fails; stcp: always relay')
        .choices(['xtcp', 'stcp'])
        .default(PEER_DEFAULTS.mode),
    )
    .addOption(new Option('--proto <proto>', 'tcp: the service takes TCP connections; udp: it takes UDP datagrams (WireGuard, DNS, games), carried as datagrams, never as a stream').choices(['tcp', 'udp']).default('tcp'))
    .option('--udp-idle <seconds>', `udp: a flow (one client address:port) with no datagram either way for this long is closed (default ${DEFAULT_UDP_SETTINGS.idleMs / 1000})`, (v) => Number(v))
    .option('--udp-flows <n>', `udp: flows per session at most; a new client past it is refused and logged (default ${DEFAULT_UDP_SETTINGS.maxFlows})`, (v) => Number(v))
    .option('--no-birthday', 'xtcp: never use birthday probing (many sockets / random ports) against a symmetric NAT')
    .option('--no-lan', 'xtcp: do not offer this machine\'s interface addresses (e.g. when VPN interfaces make slow paths)')
    .option(
      '--no-portmap',
      'xtcp: do not ask the home router (NAT-PMP, PCP, UPnP IGD) to map the session\'s UDP port. By default each session asks while it starts on the relay, offers a granted port to the peer first (it must still answer like any path) and gives it back on close and exit; a port behind another NAT (carrier NAT) is not offered. BURROW_PORTMAP=off in the environment turns it off for every command',
    )
    .option('--keepalive <seconds>', 'xtcp: keepalive interval on an idle direct path (NAT mappings expire)', (v) => Number(v), 15)
    .option('--stun <ip:port...>', 'xtcp: extra STUN servers for address discovery (the rendezvous\'s UDP port is always asked)')
    .option('--server-udp-port <port>', 'xtcp: the rendezvous\'s UDP (STUN) port, if not the same number as its TCP port', (v) => Number(v));

interface PeerFlags {
  metrics?: string;
  admin?: string;
  server?: string;
  token?: string;
  tokenFile?: string;
  name: string;
  secret?: string;
  secretFile?: string;
  mode: string;
  proto: string;
  udpIdle?: number;
  udpFlows?: number;
  birthday: boolean;
  lan: boolean;
  portmap: boolean;
  keepalive: number;
  stun?: string[];
  serverUdpPort?: number;
}

/** --proto and the UDP flow flags, checked (the same ranges as the API's and the TOML's). */
function udpFlagsFrom(opts: PeerFlags): UdpFlags {
  const proto = opts.proto === 'udp' ? 'udp' : 'tcp';
  const settings = udpSettings(opts.udpIdle, opts.udpFlows, { idle: '--udp-idle', flows: '--udp-flows' });
  if (proto === 'tcp' && (opts.udpIdle !== undefined || opts.udpFlows !== undefined)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', '--udp-idle and --udp-flows are for --proto udp');
  }
  return {
    proto,
    ...(opts.udpIdle !== undefined ? { udpIdleSeconds: settings.idleMs / 1000 } : {}),
    ...(opts.udpFlows !== undefined ? { udpFlows: settings.maxFlows } : {}),
  };
}

function directConfigFrom(opts: PeerFlags): DirectOptions {
  if (!Number.isFinite(opts.keepalive) || opts.keepalive < 1 || opts.keepalive > 3600) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--keepalive must be 1-3600 seconds, got ${opts.keepalive}`);
  }
  const cfg: DirectOptions = { birthday: opts.birthday, lan: opts.lan, keepaliveSeconds: opts.keepalive, portmap: portmapAllowed(opts.portmap) };
  if (opts.serverUdpPort !== undefined) {
    if (!Number.isInteger(opts.serverUdpPort) || opts.serverUdpPort < 1 || opts.serverUdpPort > 65534) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `--server-udp-port must be 1-65534, got ${opts.serverUdpPort}`);
    }
    cfg.serverUdpPort = opts.serverUdpPort;
  }
  if (opts.stun) {
    cfg.stun = opts.stun.map((s) => {
      const hp = parseHostPort(s, '--stun');
      if (isIP(hp.host) === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', `--stun wants IP:port, got "${s}"`);
      return formatHostPort(hp);
    });
  }
  return cfg;
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('burrow');
  program
    .description('Reach a TCP service behind a NAT, end-to-end encrypted, through a rendezvous you run.')
    .option('-c, --config <file>', 'run everything a TOML config file describes (SIGHUP or `burrow reload` reads it again)')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();
  logOptions(program);
  program.addHelpText(
    'after',
    `
Three roles:
  rendezvous  on a host with a public address: introduces peers, relays sealed bytes
  provide     next to the service (your NAS): offers it under a name and secret
  visit       on your laptop: a local port that leads to the service

Quick start on one machine:   burrow demo

A real setup:
  public host$  burrow rendezvous --listen [::]:7000 --token "$TOKEN"
  at home$      burrow provide --server rv.example.com:7000 --token "$TOKEN" \\
                  --name nas --secret "$SECRET" --to 192.168.1.10:5000
  laptop$       burrow visit --server rv.example.com:7000 --token "$TOKEN" \\
                  --name nas --secret "$SECRET" --listen 127.0.0.1:5000
  then open http://127.0.0.1:5000 on the laptop.

Or put it all in a file:       burrow -c burrow.toml   (see README)
  after editing it:            burrow reload           (only what changed restarts)`,
  );

  program.action(async (opts: LogFlags & { config?: string }) => {
    if (!opts.config) {
      program.help();
      return;
    }
    const cfg = loadConfig(opts.config);
    const log = makeLogger({ logFormat: cfg.log_format ?? opts.logFormat, logLevel: cfg.log_level ?? opts.logLevel }, 'burrow');
    const fatal = fatalChannel();
    const runsPeers = (cfg.provide?.length ?? 0) + (cfg.visit?.length ?? 0) > 0;
    const file = opts.config;
    const started: { entries: ConfigRuntime | null } = { entries: null };
    const parts = await withAdmin(runsPeers ? cfg.admin : 'off', 'peer', log, async (peers, hooks) => {
      const run = await runConfigFile(cfg, file, log, fatal.report, peers);
      started.entries = run.entries;
      hooks.reload = () => run.entries.reload();
      return run.parts;
    });
    exit(await supervise(parts, fatal.promise, started.entries));
  });

  logOptions(
    addClusterOptions(program
      .command('rendezvous')
      .description('run the rendezvous server (on a host peers can reach)')
      .option('--listen <host:port>', 'address for control and relay (TCP) and STUN (UDP): [::]:PORT = IPv6 and IPv4, 0.0.0.0:PORT = IPv4 only', '0.0.0.0:7000')
      .addOption(new Option('--token <token>', 'token peers must prove they know').env('BURROW_TOKEN'))
      .option('--token-file <file>', 'read the token from a file instead (e.g. a systemd credential: --token-file "$CREDENTIALS_DIRECTORY/token")')
      .option('--relay-rate <bytes>', 'cap each relay link at this many bytes/s per direction (0 = no cap)', (v) => Number(v), 0)
      .option('--tap <file>', 'append every byte the server sends or receives to FILE (audit: it is all ciphertext)')
      .option('--udp-port <port|off>', 'UDP port for STUN (peers learn their public address and NAT type here); PORT+1 is used too. Default: the TCP port\'s number')
      .option('--alt-address <ip>', 'a second local IP address of this host: full RFC 5780 NAT discovery (answers from the other address); needs --listen on a concrete IP')
      .option('--metrics <host:port>', RENDEZVOUS_METRICS_HELP)
      .option('--dashboard <host:port>', 'serve the live dashboard (sessions, paths, punches, failures) at http://HOST:PORT/; loopback needs no token')
      .option('--dashboard-token-file <file>', 'the dashboard\'s token (16+ characters; required off loopback): open http://HOST:PORT/?token=TOKEN once')),
  )
    .addHelpText(
      'after',
      `
Example:
  burrow rendezvous --listen [::]:7000 --token "$(openssl rand -hex 16)"
  (open TCP 7000 and UDP 7000-7001 in the firewall, IPv4 and IPv6)

--listen [::]:PORT serves both families: TCP on one dual-stack socket, STUN
on one UDP socket per family (each peer learns its own family's address).
Without IPv6 on the host it warns and falls back to IPv4. 0.0.0.0:PORT or an
IPv4 address = IPv4 only; an IPv6 address such as [2001:db8::7]:PORT = only
that address. Peers connect to a name over IPv6 and IPv4 both (Happy
Eyeballs), so one --server name with A and AAAA records serves everyone.

With two public addresses, for complete NAT discovery (burrow nat):
  burrow rendezvous --listen 198.51.100.2:7000 --alt-address 198.51.100.3 --token "$TOKEN"

The rendezvous never learns service secrets and cannot read tunnel traffic;
it only checks the token, introduces peers and relays sealed packets. Its
STUN answers are never much bigger than the requests (no amplification).

Several nodes (one Redis; peers take --server a:7000,b:7000):
  burrow rendezvous --listen [::]:7000 --token "$TOKEN" --cluster redis://10.0.0.5:6379 \
    --node-id rv1 --advertise rv1.example.com:7000 --cluster-secret-file /etc/burrow/cluster-secret
A visitor on one node reaches a provider on another; its relay connection
goes to the provider's node, so every --advertise address must be reachable.`,
    )
    .action(async (opts: LogFlags & ClusterFlags & { listen: string; token?: string; tokenFile?: string; relayRate: number; tap?: string; udpPort?: string; altAddress?: string; metrics?: string; dashboard?: string; dashboardTokenFile?: string }) => {
      const log = makeLogger(opts, 'rendezvous');
      const token = tokenFrom(opts);
      const dashboardToken = opts.dashboardTokenFile === undefined ? undefined : readSecretFile(opts.dashboardTokenFile, '--dashboard-token-file');
      const cluster = clusterFrom(opts, opts.listen);
      const running = await withMetrics(opts.metrics, log, (metrics) =>
        runRendezvous({ listen: opts.listen, token, tap: opts.tap, relayRate: opts.relayRate, udpPort: opts.udpPort, altAddress: opts.altAddress, dashboard: opts.dashboard, dashboardToken, cluster }, log, metrics),
      );
      exit(await supervise(running, new Promise(() => {})));
    });

  logOptions(
    peerOptions(
      program
        .command('provide')
        .description('offer a local TCP service to visitors who know its secret')
        .requiredOption('--to <host:port>', 'the service to offer, e.g. 192.168.1.10:5000 or 127.0.0.1:22 (a UDP one with --proto udp, e.g. 127.0.0.1:51820)'),
    ),
  )
    .addHelpText(
      'after',
      `
Example (share a NAS web UI):
  burrow provide --server rv.example.com:7000 --token "$TOKEN" \\
    --name nas --secret "$SECRET" --to 192.168.1.10:5000

A UDP service (WireGuard): add --proto udp, e.g. --to 127.0.0.1:51820 --proto udp;
the visitor needs --proto udp too.`,
    )
    .action(async (opts: LogFlags & PeerFlags & { to: string }) => {
      checkMode(opts.mode);
      const log = makeLogger(opts, 'provider');
      const fatal = fatalChannel();
      const direct = directConfigFrom(opts);
      const udp = udpFlagsFrom(opts);
      const running = await withAdmin(opts.admin, 'provider', log, (peers) =>
        withMetrics(opts.metrics, log, async (metrics) => {
          const peer = await runProvider(
          {
            server: required(opts.server, '--server', 'BURROW_SERVER'),
            token: tokenFrom(opts),
            name: opts.name,
            secret: secretFrom(opts),
            to: opts.to,
            mode: opts.mode as 'xtcp' | 'stcp',
            direct,
            ...udp,
          },
          log,
          fatal.report,
          metrics,
        );
          peers.push(peer);
          return peer;
        }),
      );
      exit(await supervise(running, fatal.promise));
    });

  logOptions(
    peerOptions(
      program
        .command('visit')
        .description('open a local port that leads to a provided service')
        .requiredOption('--listen <host:port>', 'local address for your applications, e.g. 127.0.0.1:5000 (a bare port means 127.0.0.1); a UDP port with --proto udp')
        .addOption(
          new Option('--relay <when>', 'xtcp: "fallback" relays until (and unless) the direct path works; "never" uses only the direct path and fails clearly without it')
            .choices(['fallback', 'never'])
            .default(PEER_DEFAULTS.relay),
        ),
    ),
  )
    .addHelpText(
      'after',
      `
Example (reach the NAS from a laptop):
  burrow visit --server rv.example.com:7000 --token "$TOKEN" \\
    --name nas --secret "$SECRET" --listen 127.0.0.1:5000
  then open http://127.0.0.1:5000

With the default --mode xtcp the first bytes go over the relay while the
peers punch through their NATs; the session then moves to the direct path,
open connections included. Both address families are tried: IPv4 through
the NATs, and IPv6 (from this machine's global IPv6 address) whenever both
peers have it, which also works where IPv4 cannot (two symmetric NATs, IPv4
UDP blocked). Each connection's log line says its path (relay, direct LAN,
direct internet, direct internet IPv6) and, when not direct, why; a failed
punch logs "punch-failed" with a timeline of what was tried.

A UDP service: --proto udp --listen 127.0.0.1:51820 takes datagrams there; each
client address:port is a flow (--udp-idle, --udp-flows). A datagram bigger
than the current path carries is dropped and logged (udp-datagram-too-big):
WireGuard wants MTU 1280 for a direct internet path.`,
    )
    .action(async (opts: LogFlags & PeerFlags & { listen: string; relay: string }) => {
      checkMode(opts.mode);
      const log = makeLogger(opts, 'visitor');
      const fatal = fatalChannel();
      const direct = directConfigFrom(opts);
      const udp = udpFlagsFrom(opts);
      const running = await withAdmin(opts.admin, 'visitor', log, (peers) =>
        withMetrics(opts.metrics, log, async (metrics) => {
          const peer = await runVisitor(
          {
            server: required(opts.server, '--server', 'BURROW_SERVER'),
            token: tokenFrom(opts),
            name: opts.name,
            secret: secretFrom(opts),
            listen: opts.listen,
            mode: opts.mode as 'xtcp' | 'stcp',
            relay: opts.relay as 'fallback' | 'never',
            direct,
            ...udp,
          },
          log,
          fatal.report,
          metrics,
        );
          peers.push(peer);
          return peer;
        }),
      );
      exit(await supervise(running, fatal.promise));
    });

  logOptions(
    program
      .command('demo')
      .description('run a rendezvous, a provider, a visitor and a small "NAS" on loopback, and fetch a file through them')
      .option('--size <MB>', 'size of the file to download', (v) => Number(v), 32),
  )
    .addHelpText('after', '\nExample:\n  burrow demo --size 64')
    .action(async (opts: LogFlags & { size: number }) => {
      exit(await runDemo({ sizeMB: opts.size, logFormat: opts.logFormat ?? 'text' }));
    });

  addNatCommand(program, exit);
  addStatusCommand(program, exit);
  addReloadCommand(program, exit);
  addLazyNetsimCommand(program, exit);

  return program;
}

/**
 * `burrow netsim`: the NAT lab is a large part of the tree and only this
 * command needs it, so it is loaded here, when the command runs, not when
 * the CLI starts. The arguments after `netsim` (its --help included) are
 * handed to the real command tree in cli/netsim.ts.
 */
function addLazyNetsimCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('netsim')
    .description('the NAT lab: run burrow behind real Linux NATs (network namespaces) and check the outcome of every pair')
    .argument('[args...]')
    .helpOption(false)
    .allowUnknownOption()
    .passThroughOptions()
    .action(async (args: string[]) => {
      const { runNetsimCommand } = await import('./netsim.js');
      await runNetsimCommand(args, exit);
    });
}

export async function main(argv: string[]): Promise<void> {
  let code: number | null = null;
  const exit = (c: number) => {
    code = c;
  };
  const program = buildProgram(exit);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof Error && 'exitCode' in err && typeof (err as { exitCode: unknown }).exitCode === 'number') {
      // commander already printed help or the usage error
      const c = (err as { exitCode: number; code?: string }).exitCode;
      process.exit(c === 0 ? 0 : EXIT_USAGE);
    }
    if (isBurrowError(err)) {
      process.stderr.write(`burrow: ${err.message}\n`);
      process.exit(err.code === 'ERR_INVALID_ARGUMENT' || err.code === 'ERR_CONFIG' ? EXIT_USAGE : EXIT_FATAL);
    }
    throw err;
  }
  if (code !== null) process.exit(code);
}

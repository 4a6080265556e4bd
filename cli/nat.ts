/**
 * `burrow nat`: what kind of NAT is this machine behind? Asks a STUN server
 * (a burrow rendezvous, or any RFC 5780 server) and prints the answer in
 * plain words or as JSON.
 */
import { lookup } from 'node:dns/promises';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { Command } from 'commander';
import { BurrowError } from '../src/errors.js';
import { bindUdpSocket } from '../src/net/bind.js';
import { formatEndpoint } from '../src/net/endpoint.js';
import type { UdpEndpoint } from '../src/net/udp-socket.js';
import { discoverNat } from '../src/nat/discovery.js';
import { noRouteReport } from '../src/nat/analyse.js';
import { localAddressTowards } from '../src/nat/local-address.js';
import { MAX_IPV6_PER_PREFIX } from '../src/nat/ipv6-addresses.js';
import { probeIpv6 } from '../src/nat/ipv6-probe.js';
import { probePortMapping } from '../src/nat/portmap-probe.js';
import { portMappingReport, skippedPortMapping } from '../src/nat/portmap-report.js';
import type { BehaviourResult, Ipv6Report, NatCheckReport, NatReport, PortMappingReport } from '../src/nat/report.js';
import { NAT_CHECK_TIMERS } from '../src/nat/timers.js';
import { PROTOCOL_NAMES } from '../src/portmap/mapper-core.js';
import { portmapAllowed } from './portmap-switch.js';
import { parseHostPort } from '../peer/endpoint-arg.js';

/** A report was made. */
export const EXIT_REPORT = 0;
/** No STUN server answered over UDP. */
export const EXIT_NO_ANSWER = 1;
/** Bad arguments (commander's usage errors also exit 2). */
export const EXIT_USAGE = 2;

const HELP = `
Example:
  burrow nat --server rv.example.com:7000 --alt-port
  burrow nat --server rv.example.com:7000 --json

What the words mean. A NAT gives each of your sockets a public address:port
(its "mapping") and decides which packets from outside may come in (its
"filtering"). Each can be:
  endpoint-independent        the same whoever you talk to: one public
                              address:port for the socket, and anyone may
                              send to it once you have sent anything
  address-dependent           depends on the remote IP address: a new mapping
                              per remote host / only hosts you sent to may answer
  address-and-port-dependent  depends on the remote IP address and port: a new
                              mapping per remote socket / only the exact
                              address:port you sent to may answer
Endpoint-independent mapping makes direct connections easy; with
address-and-port-dependent mapping ("symmetric NAT") they work only if the
public ports are predictable or the other side's NAT is easy.

The server needs a second address (burrow rendezvous --alt-address) for the
complete test; with one address, --alt-port uses its PORT+1 (a burrow
rendezvous always answers there) and the report says what could not be told.

IPv6 (runs next to the IPv4 tests, at most ${NAT_CHECK_TIMERS.ipv6ProbeMs} ms): this host's global
IPv6 addresses (never link-local; unique-local fc00::/7 ones are listed and
count only when there is no global one; at most ${MAX_IPV6_PER_PREFIX} per /64), then one STUN
request over UDP/IPv6 to the server's IPv6 address (its name's AAAA record,
an IPv6 literal in --server, or --server6). It tells whether UDP over IPv6
works, the address the server saw, and whether that differs from this host's
("translated": NPTv6 or NAT66 on the way). Plain IPv6 needs no NAT traversal,
only a firewall that lets the answer in.

Port mapping (also at the same time; --no-portmap skips it): asks the default
gateway (or --gateway) over NAT-PMP, PCP and UPnP IGD at once (short
timeouts; about 1 s when nothing answers), then maps one test UDP port with
the first that answered (PCP, NAT-PMP, UPnP) for ${NAT_CHECK_TIMERS.portMapLifetimeSeconds} s, because only a mapping
shows the lifetime and PCP has no address-only question. The mapping is
deleted again before exit. It reports which protocols answered, the external
address and port, the lifetime, and whether another NAT sits above the router
(its external address is private or shared 100.64/10 space, or differs from
the public address the STUN server saw).

Exit status (from the IPv4 tests): 0 report made, 1 no STUN answer over UDP (or no
route to the server: the report says which), 2 bad arguments.`;

export function addNatCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('nat')
    .description('find out what kind of NAT this machine is behind (RFC 5780 tests against a STUN server)')
    .requiredOption('--server <host:port>', 'STUN server: a burrow rendezvous (its TCP port number) or any STUN server')
    .option('--alt-port', 'the server also answers on PORT+1 (a burrow rendezvous does); used when it has no second address')
    .option('--json', 'print the report as JSON')
    .option('--timeout <ms>', 'give up on one request after this long', (v) => Number(v), 2000)
    .option('--server6 <[addr]:port>', "the server's IPv6 address for the IPv6 test (default: from --server: an IPv6 literal or its name's AAAA record)")
    .option('--gateway <ip>', 'router to ask for a port mapping (default: the default route\'s gateway)')
    .option('--no-portmap', 'skip the port-mapping test (NAT-PMP, PCP, UPnP IGD)')
    .addHelpText('after', HELP)
    .action(async (opts: NatOptions) => {
      const code = await runNat(opts, (text) => process.stdout.write(text));
      if (code === EXIT_NO_ANSWER) {
        process.stderr.write(`burrow nat: no STUN answer from ${opts.server} over UDP (no route, UDP blocked here, or the server is not answering STUN on that port)\n`);
      }
      exit(code);
    });
}

export interface NatOptions {
  server: string;
  altPort?: boolean;
  json?: boolean;
  timeout: number;
  server6?: string;
  gateway?: string;
  /** commander's --no-portmap sets false; default true. */
  portmap?: boolean;
}

export async function runNat(opts: NatOptions, write: (text: string) => void): Promise<number> {
  if (!Number.isInteger(opts.timeout) || opts.timeout < 100 || opts.timeout > 60_000) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--timeout must be 100-60000 ms, got ${opts.timeout}`);
  }
  if (opts.gateway !== undefined && !isIPv4(opts.gateway)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--gateway must be an IPv4 address, got "${opts.gateway}"`);
  }
  const servers = await resolveServers(opts.server, opts.server6, systemLookup);
  const server = servers.v4;
  // No route (an IPv6-only host asked about IPv4): the IPv4 tests cannot run, the other sections still can.
  const local = await localAddressTowards(server);
  const socketOpts = { recvBufferSize: 65536, sendBufferSize: 65536 };
  // All three at once: the IPv6 and port-mapping probes cost at most their own short bounds.
  // Settled, not Promise.all: if one fails, the others still finish (the port mapper deletes its test mapping).
  const [report, ipv6, portMap] = await settleAll([
    local === null
      ? Promise.resolve(noRouteReport(server, 0))
      : discoverNat({
          server,
          altPort: opts.altPort === true,
          openSocket: () => bindUdpSocket({ address: local, ...socketOpts }),
          timeoutMs: opts.timeout,
        }),
    probeIpv6({
      server: servers.v6,
      ...(servers.v6Missing !== undefined ? { noServerReason: servers.v6Missing } : {}),
      openSocket: (address) => bindUdpSocket({ address, ...socketOpts }),
      timeoutMs: Math.min(opts.timeout, NAT_CHECK_TIMERS.ipv6ProbeMs),
    }),
    !portmapAllowed(opts.portmap !== false) ? Promise.resolve(null) : probePortMapping(opts.gateway !== undefined ? { gateway: opts.gateway } : {}),
  ] as const);
  const stunPublic = report.mapped !== null && isIPv4(report.mapped.address) ? report.mapped.address : null;
  const full: NatCheckReport = {
    ...report,
    ipv6,
    portMapping: portMap === null ? skippedPortMapping() : portMappingReport(portMap, stunPublic),
  };
  write(opts.json ? JSON.stringify(full, null, 2) + '\n' : formatReport(full));
  return report.udp === 'ok' ? EXIT_REPORT : EXIT_NO_ANSWER;
}

/** Like Promise.all, but waits for every promise before rethrowing the first failure. */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Resolves a name to its addresses of one family (getaddrinfo: /etc/hosts, then DNS). */
export type FamilyLookup = (host: string, family: 4 | 6) => Promise<string[]>;

const systemLookup: FamilyLookup = async (host, family) => {
  try {
    return (await lookup(host, { family, all: true })).map((a) => a.address);
  } catch {
    return [];
  }
};

export interface ResolvedServers {
  /** Where the IPv4 tests go (an IPv6 literal --server keeps going there, as before). */
  v4: UdpEndpoint;
  /** Where the IPv6 test goes; null with the reason in `v6Missing`. */
  v6: UdpEndpoint | null;
  v6Missing?: string;
}

/** --server (and --server6) to endpoints: the IPv4 target as before, plus the IPv6 one. */
export async function resolveServers(server: string, server6: string | undefined, resolve: FamilyLookup): Promise<ResolvedServers> {
  const hp = parseHostPort(server, '--server');
  if (hp.port === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', '--server needs a port, e.g. rv.example.com:7000');
  const literal = isIP(hp.host);
  const [v4list, v6list, v6explicit] = await Promise.all([
    literal !== 0 ? [hp.host] : resolve(hp.host, 4),
    literal === 6 ? [hp.host] : literal === 4 ? [] : resolve(hp.host, 6),
    server6 === undefined ? null : resolveServer6(server6, resolve),
  ]);
  const first4 = v4list.find((a) => isIPv4(a)) ?? v6list.find((a) => isIPv6(a));
  if (first4 === undefined) throw new BurrowError('ERR_INVALID_ARGUMENT', `--server: cannot resolve "${hp.host}"`);
  const v4 = { address: first4, port: hp.port };
  if (v6explicit !== null) return { v4, v6: v6explicit };
  const v6addr = v6list.find((a) => isIPv6(a) && !/^::ffff:/i.test(a));
  if (v6addr !== undefined) return { v4, v6: { address: v6addr, port: hp.port } };
  const why =
    literal === 4
      ? `--server is an IPv4 address (give the server's name, an IPv6 literal, or --server6)`
      : `${hp.host} has no IPv6 (AAAA) address`;
  return { v4, v6: null, v6Missing: why };
}

async function resolveServer6(text: string, resolve: FamilyLookup): Promise<UdpEndpoint> {
  const hp = parseHostPort(text, '--server6');
  if (hp.port === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', '--server6 needs a port, e.g. [2001:db8::1]:7000');
  if (isIPv6(hp.host)) return { address: hp.host, port: hp.port };
  if (isIPv4(hp.host)) throw new BurrowError('ERR_INVALID_ARGUMENT', `--server6 must be an IPv6 address or a name, got "${hp.host}"`);
  const found = (await resolve(hp.host, 6)).find((a) => isIPv6(a) && !/^::ffff:/i.test(a));
  if (found === undefined) throw new BurrowError('ERR_INVALID_ARGUMENT', `--server6: "${hp.host}" has no IPv6 (AAAA) address`);
  return { address: found, port: hp.port };
}

function behaviourLine(b: BehaviourResult): string {
  if (b.behaviour !== null) return b.behaviour;
  return b.tested ? `${b.possible.join(' or ')} (cannot tell)` : 'not tested';
}

/** The report for a terminal. */
export function formatReport(r: NatReport): string {
  const out: string[] = [];
  const alt = r.serverAlternate ? ` (alternate ${formatEndpoint(r.serverAlternate)})` : '';
  out.push(`NAT discovery against ${formatEndpoint(r.server)}${alt}, ${Math.round(r.durationMs)} ms`);
  if (r.udp === 'blocked') {
    out.push('', wrap(r.summary, 78), '');
    return out.join('\n') + extraSections(r);
  }
  const row = (k: string, v: string) => out.push(`  ${k.padEnd(17)}${v}`);
  row('public address', `${formatEndpoint(r.mapped!)}${r.local ? `   (local ${formatEndpoint(r.local)})` : ''}`);
  row('NAT', r.nat === 'none' ? 'none' : 'yes');
  row('mapping', behaviourLine(r.mapping));
  row('filtering', behaviourLine(r.filtering));
  row('port allocation', r.portAllocation.kind + (r.portAllocation.step !== undefined ? `, step ${r.portAllocation.step}` : ''));
  row('hairpinning', r.hairpin.works === null ? 'n/a' : r.hairpin.works ? 'yes' : 'no');
  if (r.notRun.length > 0) for (const n of r.notRun) row('not tested', n);
  out.push('', wrap(r.summary, 78), '');
  return out.join('\n') + extraSections(r);
}

function extraSections(r: NatReport | NatCheckReport): string {
  if (!('ipv6' in r)) return '';
  return ['', formatIpv6(r.ipv6), formatPortMapping(r.portMapping)].join('\n');
}

const IPV6_STATUS: Record<Ipv6Report['status'], string> = {
  ok: 'works',
  'no-server-address': 'not tested (no IPv6 address for the server)',
  'no-address': 'unavailable (no IPv6 address here)',
  'no-route': 'unavailable (no route)',
  'no-answer': 'no answer',
};

/** The IPv6 section for a terminal. */
export function formatIpv6(v: Ipv6Report): string {
  const out = ['IPv6'];
  const row = (k: string, val: string) => out.push(`  ${k.padEnd(17)}${val}`);
  if (v.server !== null) row('server', formatEndpoint(v.server));
  row('global address', v.global.length > 0 ? v.global.join(', ') : 'none');
  if (v.uniqueLocal.length > 0) row('unique-local', v.uniqueLocal.join(', ') + (v.global.length === 0 ? '   (usable: no global address)' : ''));
  row('UDP over IPv6', IPV6_STATUS[v.status]);
  if (v.mapped !== null) row('public address', `${formatEndpoint(v.mapped)}${v.local !== null ? `   (local ${formatEndpoint(v.local)})` : ''}`);
  if (v.translated !== null) row('translated', v.translated ? 'yes (NPTv6 or NAT66)' : 'no');
  out.push('', wrap(v.summary, 78), '');
  return out.join('\n');
}

const PORTMAP_STATUS: Record<PortMappingReport['status'], string> = {
  mapped: 'yes',
  'behind-nat': 'no (another NAT above the router)',
  refused: 'refused',
  'no-router': 'no router answered',
  'no-gateway': 'no gateway',
  timeout: 'no verdict in time',
  skipped: 'not tested (--no-portmap or BURROW_PORTMAP=off)',
};

/** The port-mapping section for a terminal. */
export function formatPortMapping(p: PortMappingReport): string {
  const out = ['Port mapping'];
  const row = (k: string, val: string) => out.push(`  ${k.padEnd(17)}${val}`);
  if (p.status === 'skipped') {
    row('port mapping', PORTMAP_STATUS.skipped);
    return out.join('\n') + '\n';
  }
  if (p.gateway !== null) row('router', p.gateway);
  row('answered', p.answered.length > 0 ? p.answered.map((x) => PROTOCOL_NAMES[x]).join(', ') : 'none');
  row('port mapping', p.protocol !== null ? `yes, by ${PROTOCOL_NAMES[p.protocol]}` : PORTMAP_STATUS[p.status]);
  if (p.externalAddress !== null) row('external address', p.externalPort !== null ? `${p.externalAddress}:${p.externalPort}` : p.externalAddress);
  if (p.lifetimeSeconds !== null) row('lifetime', `${p.lifetimeSeconds} s`);
  if (p.behindAnotherNat !== null) row('NAT above router', p.behindAnotherNat ? 'yes' : 'no');
  out.push('', wrap(p.summary, 78), '');
  return out.join('\n');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

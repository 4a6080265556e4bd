/**
 * `burrow nat`: what kind of NAT is this machine behind? Asks a STUN server
 * (a burrow rendezvous, or any RFC 5780 server) and prints the answer in
 * plain words or as JSON.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Command } from 'commander';
import { BurrowError } from '../src/errors.js';
import { bindUdpSocket } from '../src/net/bind.js';
import { formatEndpoint } from '../src/net/endpoint.js';
import type { UdpEndpoint } from '../src/net/udp-socket.js';
import { discoverNat } from '../src/nat/discovery.js';
import { localAddressTowards } from '../src/nat/local-address.js';
import type { BehaviourResult, NatReport } from '../src/nat/report.js';
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

Exit status: 0 report made, 1 no STUN answer over UDP, 2 bad arguments.`;

export function addNatCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('nat')
    .description('find out what kind of NAT this machine is behind (RFC 5780 tests against a STUN server)')
    .requiredOption('--server <host:port>', 'STUN server: a burrow rendezvous (its TCP port number) or any STUN server')
    .option('--alt-port', 'the server also answers on PORT+1 (a burrow rendezvous does); used when it has no second address')
    .option('--json', 'print the report as JSON')
    .option('--timeout <ms>', 'give up on one request after this long', (v) => Number(v), 2000)
    .addHelpText('after', HELP)
    .action(async (opts: { server: string; altPort?: boolean; json?: boolean; timeout: number }) => {
      const code = await runNat(opts, (text) => process.stdout.write(text));
      if (code === EXIT_NO_ANSWER) {
        process.stderr.write(`burrow nat: no STUN answer from ${opts.server} over UDP (UDP blocked here, or the server is not answering STUN on that port)\n`);
      }
      exit(code);
    });
}

export async function runNat(
  opts: { server: string; altPort?: boolean; json?: boolean; timeout: number },
  write: (text: string) => void,
): Promise<number> {
  if (!Number.isInteger(opts.timeout) || opts.timeout < 100 || opts.timeout > 60_000) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--timeout must be 100-60000 ms, got ${opts.timeout}`);
  }
  const server = await resolveServer(opts.server);
  const local = await localAddressTowards(server);
  if (local === null) throw new BurrowError('ERR_CONNECT_FAILED', `no route to ${formatEndpoint(server)}`);
  const report = await discoverNat({
    server,
    altPort: opts.altPort === true,
    openSocket: () => bindUdpSocket({ address: local, recvBufferSize: 65536, sendBufferSize: 65536 }),
    timeoutMs: opts.timeout,
  });
  write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.udp === 'ok' ? EXIT_REPORT : EXIT_NO_ANSWER;
}

async function resolveServer(text: string): Promise<UdpEndpoint> {
  const hp = parseHostPort(text, '--server');
  if (hp.port === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', '--server needs a port, e.g. rv.example.com:7000');
  if (isIP(hp.host) !== 0) return { address: hp.host, port: hp.port };
  try {
    const { address } = await lookup(hp.host, { family: 4 }).catch(() => lookup(hp.host));
    return { address, port: hp.port };
  } catch {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--server: cannot resolve "${hp.host}"`);
  }
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
    return out.join('\n');
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

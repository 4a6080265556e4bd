/**
 * `burrow status [--admin PATH] [--json]`: asks a running provider's or
 * visitor's admin socket what it is doing and prints it in words (or the
 * JSON as is). Without --admin it uses the one socket of this user's
 * running peers, if there is exactly one.
 */
import { createConnection } from 'node:net';
import type { Command } from 'commander';
import { BurrowError } from '../src/errors.js';
import { defaultAdminDir, findAdminSockets } from '../peer/admin-path.js';
import { ADMIN_LIMITS, listening, type AdminRequest, type AdminResponse } from '../peer/admin-server.js';
import type { PeerStatus, SessionStatus, UdpStatus } from '../peer/status.js';
import type { ProcessStatus } from './admin.js';

/** The answer is one line; a status of many sessions is still far below this. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** One request to an admin socket, its answer parsed; gives up after `timeoutMs` without a byte. */
export function askAdmin(path: string, cmd: AdminRequest['cmd'] = 'status', timeoutMs: number = ADMIN_LIMITS.timeoutMs): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    const fail = (why: string) => {
      socket.destroy();
      reject(new BurrowError('ERR_CONNECT_FAILED', `admin socket ${path}: ${why}`));
    };
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => fail('no answer in time'));
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.on('connect', () => socket.write(`${JSON.stringify({ cmd })}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_ANSWER_BYTES) fail('answer too long');
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as AdminResponse);
      } catch {
        fail('the answer is not JSON');
      }
    });
  });
}

const PATH_WORDS: Record<SessionStatus['path'], string> = {
  relay: 'relay',
  direct_lan: 'direct LAN',
  direct_internet: 'direct internet',
  none: 'no path yet',
};

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

export function statusInWords(st: ProcessStatus): string {
  const out: string[] = [`burrow peer process ${st.pid}`];
  for (const p of st.peers) out.push(...peerInWords(p));
  return `${out.join('\n')}\n`;
}

function peerInWords(p: PeerStatus): string[] {
  const c = p.counters;
  const out = [
    `${p.role} of ${p.services.length > 0 ? p.services.join(', ') : '(no service registered yet)'}: ${p.sessions.length} session${p.sessions.length === 1 ? '' : 's'}`,
    `  since start: ${c.sessionsOpened} sessions, punches ${c.punchesDirect} direct / ${c.punchesFailed} failed / ${c.punchesNotRun} not run, ${c.repunches} re-punches, ${c.pathDeaths} direct paths died`,
  ];
  for (const s of p.sessions) {
    const path = `${PATH_WORDS[s.path]}${s.family === 'ipv6' ? ' IPv6' : s.family === 'ipv4' ? ' IPv4' : ''}`;
    out.push(`  session ${s.id} (${s.service}): ${path}${s.label ? ` (${s.label})` : ''}${s.rttMs !== undefined ? `, RTT ${s.rttMs} ms` : ''}`);
    out.push(`    sent ${bytes(s.bytesSent)}, received ${bytes(s.bytesReceived)}, up ${age(s.ageSeconds)}${s.portMappings.length > 0 ? `, port mapping: ${s.portMappings.join(', ')}` : ''}`);
    if (s.direct) out.push(`    direct: ${s.direct}`);
    if (s.udp) out.push(`    udp: ${udpInWords(s.udp)}`);
  }
  if (c.udp) out.push(`  udp since start: ${udpInWords(c.udp)}`);
  return out;
}

function udpInWords(u: UdpStatus): string {
  const drops = Object.entries(u.drops).map(([why, n]) => `${n} ${why.replace('_', ' ')}`);
  return [
    `${u.flows}${u.maxFlows !== undefined ? `/${u.maxFlows}` : ''} flows open (${u.flowsOpened} opened)`,
    `datagrams ${u.datagramsSent} sent (${bytes(u.bytesSent)}) / ${u.datagramsReceived} received (${bytes(u.bytesReceived)})`,
    ...(u.datagramLimit !== undefined ? [`largest datagram now ${u.datagramLimit} B`] : []),
    `dropped: ${drops.length > 0 ? drops.join(', ') : 'none'}`,
  ].join(', ');
}

/** Which socket to ask: the one given, or the only one answering (a killed peer leaves its file behind). */
export async function pickAdminSocket(given: string | undefined, dir: string = defaultAdminDir()): Promise<string> {
  if (given !== undefined) return given;
  const files = findAdminSockets(dir);
  const up = await Promise.all(files.map((f) => listening(f)));
  const found = files.filter((_, i) => up[i] === true);
  const only = found[0];
  if (found.length === 1 && only !== undefined) return only;
  if (found.length === 0) throw new BurrowError('ERR_CONNECT_FAILED', `no running burrow peer found (no admin socket in ${dir}); start one with provide/visit, or give --admin PATH`);
  throw new BurrowError('ERR_INVALID_ARGUMENT', `several burrow peers are running; choose one with --admin PATH:\n${found.map((f) => `  ${f}`).join('\n')}`);
}

export function addStatusCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('status')
    .description('show what a running provider or visitor is doing: sessions, paths, RTT, bytes, port mappings')
    .option('--admin <path>', 'the peer\'s admin socket (default: the only one running)')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { admin?: string; json?: boolean }) => {
      const path = await pickAdminSocket(opts.admin);
      const r = await askAdmin(path);
      if (!r.ok) throw new BurrowError('ERR_CONNECT_FAILED', `admin socket ${path} refused: ${r.error.message}`);
      process.stdout.write(opts.json ? `${JSON.stringify(r.status, null, 2)}\n` : statusInWords(r.status as ProcessStatus));
      exit(0);
    });
}

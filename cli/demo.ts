import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { at } from '../src/util/at.js';

/**
 * `burrow demo`: the whole system on loopback, as separate processes running
 * this same CLI: a rendezvous, a provider in front of a small "NAS" HTTP file
 * service, and a visitor. Downloads a file through the visitor, checks its
 * SHA-256 and reports the path taken and the throughput.
 */
export interface DemoOptions {
  sizeMB: number;
  logFormat: string;
  timeoutMs?: number;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Child {
  name: string;
  proc: ChildProcess;
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const size = Math.round(opts.sizeMB * 1e6);
  const token = randomBytes(16).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const file = randomBytes(size);
  const expected = createHash('sha256').update(file).digest('hex');
  const children: Child[] = [];
  const events: Record<string, unknown>[] = [];
  let waiters: Array<() => void> = [];

  const nas = http.createServer((req, res) => {
    if (req.url !== '/backup.bin') {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.length) });
    res.end(file);
  });
  nas.listen(0, '127.0.0.1');
  await once(nas, 'listening');
  const nasPort = (nas.address() as net.AddressInfo).port;
  const rvPort = await freePort();
  const visitPort = await freePort();

  const cli = at(process.argv, 1);
  const start = (name: string, args: string[]) => {
    const proc = spawn(process.execPath, [...process.execArgv, cli, ...args, '--log-format', 'json'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push({ name, proc });
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        say(`  [${name}] ${line}`);
        return;
      }
      ev.proc = name;
      events.push(ev);
      if (opts.logFormat === 'json') say(JSON.stringify(ev));
      else {
        const fields = Object.entries(ev)
          .filter(([k]) => !['time', 'level', 'event', 'proc', 'component'].includes(k))
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ');
        say(`  [${name.padEnd(10)}] ${String(ev.event)} ${fields}`);
      }
      for (const w of waiters) w();
    });
    return proc;
  };
  const waitFor = (pred: (e: Record<string, unknown>) => boolean, what: string, ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = events.find(pred);
        if (hit) {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      waiters.push(check);
      check();
    });

  try {
    say(`burrow demo: everything on loopback, ${opts.sizeMB} MB file`);
    say(`  "NAS" HTTP file service on 127.0.0.1:${nasPort}`);
    start('rendezvous', ['rendezvous', '--listen', `127.0.0.1:${rvPort}`, '--token', token]);
    await waitFor((e) => e.proc === 'rendezvous' && e.event === 'listening', 'the rendezvous', 10_000);
    // Both peers share this host: a router port mapping would help nobody (and the demo stays off the LAN).
    const peerArgs = ['--server', `127.0.0.1:${rvPort}`, '--token', token, '--name', 'nas', '--secret', secret, '--no-portmap'];
    start('provider', ['provide', ...peerArgs, '--to', `127.0.0.1:${nasPort}`]);
    await waitFor((e) => e.proc === 'provider' && e.event === 'registered', 'the provider to register', 10_000);
    start('visitor', ['visit', ...peerArgs, '--listen', `127.0.0.1:${visitPort}`]);
    const up = await waitFor((e) => e.proc === 'visitor' && e.event === 'session-up', 'the visitor session', 15_000);
    // xtcp: the session starts on the relay and punches alongside; let the punch settle so the demo shows where it ends up.
    const settled = await waitFor(
      (e) => e.proc === 'visitor' && (e.event === 'direct-up' || e.event === 'punch-failed'),
      'the punch',
      10_000,
    ).catch(() => null);

    say(`  downloading http://127.0.0.1:${visitPort}/backup.bin through the visitor ...`);
    const t0 = performance.now();
    const { bytes, sha } = await download(`http://127.0.0.1:${visitPort}/backup.bin`, opts.timeoutMs ?? 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const ok = sha === expected && bytes === size;
    say('');
    say(`result: ${ok ? 'OK' : 'FAILED'}`);
    say(`  bytes      ${bytes} of ${size}`);
    say(`  sha256     ${sha}${ok ? ' (matches the NAS copy)' : ` (expected ${expected})`}`);
    if (settled?.event === 'direct-up') {
      say(`  path       ${String(settled.path)} to ${String(settled.remote)} (UDP hole punched in ${String(settled.punchMs)} ms), end-to-end encrypted`);
    } else {
      const why = settled ? `: ${String(settled.reason)}` : '';
      say(`  path       ${String(up.path)} via ${String(up.via ?? 'the rendezvous')}${why}, end-to-end encrypted`);
    }
    say(`  throughput ${(bytes / 1e6 / seconds).toFixed(1)} MB/s (${seconds.toFixed(2)} s)`);
    return ok ? 0 : 1;
  } catch (err) {
    say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    for (const c of children) c.proc.kill('SIGTERM');
    nas.close();
    nas.closeAllConnections();
  }
}

function download(url: string, timeoutMs: number): Promise<{ bytes: number; sha: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      res.on('end', () => resolve({ bytes, sha: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`download timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

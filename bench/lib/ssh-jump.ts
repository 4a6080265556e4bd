/**
 * OpenSSH through a jump host on loopback, the way people reach a machine at
 * home without burrow: two sshd on 127.0.0.1 (the jump host and the target),
 * `ssh -J jump -N -L port:target-side:sink target`, chacha20-poly1305 on both
 * hops (so every byte is encrypted twice, as in real use). Keys and config
 * live in a temp dir removed on stop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { freePort } from './tcp.js';
import { atTeardown } from './teardown.js';

const SSHD = '/usr/sbin/sshd';
export const SSH_CIPHER = 'chacha20-poly1305@openssh.com';

/** Why the comparison cannot run, or null. */
export function sshJumpSkipReason(): string | null {
  const ok = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
  if (!ok(SSHD, ['-V']) || !ok('ssh', ['-V']) || !ok('ssh-keygen', ['-?'])) {
    return 'OpenSSH not installed (apt-get install openssh-server openssh-client)';
  }
  return null;
}

export interface SshJump {
  /** Local port of `ssh -L`: connect here to reach the target port. */
  readonly port: number;
  /** The ssh client (with its `ssh -W` child), the jump sshd, the target sshd. */
  readonly pids: { visitor: number; relay: number; provider: number };
  stop(): void;
}

async function waitListening(port: number, proc: ChildProcess, what: string, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited: ${log().slice(-400)}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not listening on ${port} within ${timeoutMs} ms: ${log().slice(-400)}`);
}

/** Starts the jump host, the target and the tunnelled client in front of 127.0.0.1:targetPort. */
export async function startSshJump(targetPort: number): Promise<SshJump> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-bench-ssh-'));
  const procs: ChildProcess[] = [];
  const stop = atTeardown(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const logs = new Map<ChildProcess, string>();
  const track = (p: ChildProcess): ChildProcess => {
    procs.push(p);
    logs.set(p, '');
    p.stderr?.setEncoding('utf8').on('data', (c: string) => logs.set(p, ((logs.get(p) ?? '') + c).slice(-4000)));
    p.on('error', () => {});
    return p;
  };
  try {
    const keygen = (file: string) => {
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)], { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`ssh-keygen failed for ${file}`);
    };
    keygen('host_key');
    keygen('client_key');
    copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
    try {
      mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation directory (root only)
    } catch {
      /* not root: sshd says what it misses if it needs it */
    }
    const [jumpPort, targetSshPort, localPort] = [await freePort(), await freePort(), await freePort()];
    const sshd = (port: number) =>
      track(
        spawn(SSHD, [
          '-D', '-e', '-f', '/dev/null',
          '-o', `Port=${port}`, '-o', 'ListenAddress=127.0.0.1',
          '-o', `HostKey=${join(dir, 'host_key')}`, '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`,
          '-o', 'PidFile=none', '-o', 'UsePAM=no', '-o', 'StrictModes=no', '-o', `Ciphers=${SSH_CIPHER}`,
        ], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
    const jump = sshd(jumpPort);
    const target = sshd(targetSshPort);
    await waitListening(jumpPort, jump, 'sshd (jump host)', 10_000, () => logs.get(jump) ?? '');
    await waitListening(targetSshPort, target, 'sshd (target)', 10_000, () => logs.get(target) ?? '');
    // One config file: `-J` hands `-F` on to the jump's `ssh -W`, so both hops use the same cipher and key.
    writeFileSync(
      join(dir, 'ssh_config'),
      [
        'Host jump', '  HostName 127.0.0.1', `  Port ${jumpPort}`,
        'Host target', '  HostName 127.0.0.1', `  Port ${targetSshPort}`,
        'Host *', `  User ${userInfo().username}`, `  IdentityFile ${join(dir, 'client_key')}`, '  IdentitiesOnly yes',
        '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  BatchMode yes',
        `  Ciphers ${SSH_CIPHER}`, '  Compression no', '  LogLevel ERROR', '',
      ].join('\n'),
    );
    const client = track(
      spawn('ssh', [
        '-F', join(dir, 'ssh_config'), '-J', 'jump', '-N', '-o', 'ExitOnForwardFailure=yes',
        '-L', `127.0.0.1:${localPort}:127.0.0.1:${targetPort}`, 'target',
      ], { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    await waitListening(localPort, client, 'ssh -J -L', 15_000, () => logs.get(client) ?? '');
    const pid = (p: ChildProcess): number => {
      if (p.pid === undefined) throw new Error('an OpenSSH process has no pid');
      return p.pid;
    };
    const pids = { visitor: pid(client), relay: pid(jump), provider: pid(target) };
    // The tunnel must really cross the jump host: its sshd forked a session for our client.
    if (!hasChild(pids.relay)) throw new Error('ssh -J did not connect through the jump sshd');
    return { port: localPort, pids, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

function hasChild(pid: number): boolean {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim().length > 0;
}

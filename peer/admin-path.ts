/**
 * Where a peer's admin socket lives by default: $XDG_RUNTIME_DIR/burrow, or
 * a 0700 directory of this user under the temporary directory. One socket
 * per process, named after its role and pid, so `burrow status` finds it.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BurrowError } from '../src/errors.js';

const SOCKET_NAME = /^(provider|visitor|peer)-(\d{1,10})\.sock$/;

export function defaultAdminDir(): string {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  if (xdg) return join(xdg, 'burrow');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `burrow-${uid}`);
}

/** Creates the directory (0700) if needed; refuses one that is not ours or others can enter. */
export function ensureAdminDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new BurrowError('ERR_CONFIG', `admin socket directory ${dir} must be a directory of this user with mode 0700`);
  }
}

export function defaultAdminPath(role: 'provider' | 'visitor' | 'peer', dir: string = defaultAdminDir()): string {
  return join(dir, `${role}-${process.pid}.sock`);
}

/** The admin sockets in the default directory whose process still runs. */
export function findAdminSockets(dir: string = defaultAdminDir()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => {
      const m = SOCKET_NAME.exec(n);
      return m !== null && alive(Number(m[2]));
    })
    .sort()
    .map((n) => join(dir, n));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

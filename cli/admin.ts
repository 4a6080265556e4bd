/**
 * `--admin PATH|off` (and `admin = "PATH"` in a config file): the process's
 * local admin socket, which `burrow status` and `burrow reload` ask. Started before any role,
 * so a path in use fails first and changes nothing; removed at stop.
 */
import { BurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { defaultAdminDir, defaultAdminPath, ensureAdminDir } from '../peer/admin-path.js';
import { AdminServer, type AdminRequest } from '../peer/admin-server.js';
import type { PeerStatus } from '../peer/status.js';

export const ADMIN_HELP = 'local admin socket for `burrow status` and `burrow reload` (default: one in $XDG_RUNTIME_DIR/burrow or a 0700 temp directory; "off" = none)';

/** A role that can say what it is doing. */
export interface Inspectable {
  status(): PeerStatus;
}

interface Stoppable {
  stop(): Promise<void> | void;
}

/** What `start` tells the socket about the process beyond its peers: how to reload, if it can. */
export interface AdminHooks {
  /** Set by a `burrow -c FILE` process: the `reload` request calls it. */
  reload: (() => Promise<unknown>) | null;
}

/** The answer to a status request: this process and each peer it runs. */
export interface ProcessStatus {
  pid: number;
  peers: PeerStatus[];
}

/**
 * Starts the admin socket (unless "off"), then the roles; `peers` is filled
 * by `start` with what the socket reports. If a role cannot start, the
 * socket closes too.
 */
export async function withAdmin(
  text: string | undefined,
  role: 'provider' | 'visitor' | 'peer',
  log: Logger,
  start: (peers: Inspectable[], hooks: AdminHooks) => Promise<Stoppable[]>,
): Promise<Stoppable[]> {
  const peers: Inspectable[] = [];
  const hooks: AdminHooks = { reload: null };
  if (text === 'off') return start(peers, hooks);
  const handler = (req: AdminRequest): ProcessStatus | Promise<unknown> => {
    if (req.cmd === 'status') return { pid: process.pid, peers: peers.map((p) => p.status()) };
    if (hooks.reload === null) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', 'this process was not started with -c FILE, so it has no file to reload: restart it with new options, or run it from a config file (burrow -c FILE)');
    }
    return hooks.reload();
  };
  let admin: AdminServer;
  if (text === undefined) {
    // The default place may be unusable (no writable runtime directory): the peer runs anyway, without `burrow status`.
    const dir = defaultAdminDir();
    try {
      ensureAdminDir(dir);
      admin = await AdminServer.start(defaultAdminPath(role, dir), handler);
    } catch (err) {
      log.warn('admin-unavailable', { error: err instanceof Error ? err.message : String(err), note: 'burrow status cannot reach this process; choose a path with --admin PATH' });
      return start(peers, hooks);
    }
  } else {
    admin = await AdminServer.start(text, handler);
  }
  log.info('admin-listening', { admin: admin.path });
  try {
    return [...(await start(peers, hooks)), admin];
  } catch (err) {
    await admin.stop();
    throw err;
  }
}

/**
 * Names of everything the kernel lane creates.
 *
 * A run id is the owning process's PID in base 36 followed by three random
 * base-36 characters (at most 8 characters). Every namespace is called
 * `<prefix>-<runid>-<role>`, every interface `<short>-<runid>` (at most 15
 * characters, the Linux limit), every nftables table `burrow_<runid>`. Because
 * the PID is part of the name, `sweepStale` can tell a crashed run's leftovers
 * from a live run's namespaces without any state file.
 */
import { at } from '../../src/util/at.js';
import { randomInt } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { pidAlive } from './exec.js';

export const DEFAULT_PREFIX = 'bnk';
const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME = 15;

export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) throw new Error(`netsim prefix must match ${PREFIX_RE}, got ${JSON.stringify(prefix)}`);
  return prefix;
}

const issued = new Set<string>();

/** A run id for this process, never the same one twice in one process. */
export function newRunId(pid = process.pid): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    let rnd = '';
    for (let i = 0; i < 3; i++) rnd += randomInt(36).toString(36);
    const id = pid.toString(36) + rnd;
    if (!issued.has(id)) {
      issued.add(id);
      return id;
    }
  }
  throw new Error('no fresh run id after 1000 attempts');
}

/** The PID encoded in a run id, or undefined if it is not one of ours. */
export function runIdPid(runId: string): number | undefined {
  if (!/^[0-9a-z]{4,8}$/.test(runId)) return undefined;
  const pid = parseInt(runId.slice(0, -3), 36);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function nsName(prefix: string, runId: string, role: string): string {
  if (!/^[a-z0-9]+$/.test(role)) throw new Error(`bad namespace role ${role}`);
  return `${prefix}-${runId}-${role}`;
}

/** Splits `<prefix>-<runid>-<role>`; undefined for names that are not ours. */
export function parseNsName(prefix: string, name: string): { runId: string; role: string } | undefined {
  const m = /^([a-z0-9]+)-([0-9a-z]{4,8})-([a-z0-9]+)$/.exec(name);
  if (!m || m[1] !== prefix) return undefined;
  return { runId: at(m, 2), role: at(m, 3) };
}

export function ifName(short: string, runId: string): string {
  const name = `${short}-${runId}`;
  if (name.length > MAX_IFNAME) throw new Error(`interface name ${name} is longer than ${MAX_IFNAME} characters`);
  return name;
}

export function tableName(runId: string): string {
  return `burrow_${runId}`;
}

/**
 * Whether the process that owns a run id is still there. A PID that is alive
 * but belongs to a process started after the namespace was created is a
 * reused PID: the owner is gone.
 */
export function ownerAlive(runId: string, nsCreatedMs?: number): boolean {
  const pid = runIdPid(runId);
  if (pid === undefined) return false;
  if (!pidAlive(pid)) return false;
  if (nsCreatedMs === undefined) return true;
  const started = processStartMs(pid);
  return started === undefined || started <= nsCreatedMs + 1000;
}

let bootMs: number | undefined;
function processStartMs(pid: number): number | undefined {
  try {
    if (bootMs === undefined) {
      const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      if (!btime) return undefined;
      bootMs = Number(btime[1]) * 1000;
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) comes after the ")" of the command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    if (!Number.isFinite(ticks)) return undefined;
    return bootMs + (ticks / 100) * 1000; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** When a namespace's bind-mount file was created (ms since epoch), if known. */
export function nsCreatedMs(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).mtimeMs;
  } catch {
    return undefined;
  }
}

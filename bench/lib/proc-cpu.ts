/**
 * CPU time of processes, read from /proc/PID/stat: user + system, of a process
 * and every live descendant (sshd forks a process per connection, `ssh -J`
 * runs its jump as a child ssh). A reaped child's time lands in its parent's
 * cutime/cstime, so summing utime+stime+cutime+cstime over the live tree
 * gives a total that only grows: the difference of two readings is the CPU
 * spent in between, even across children that came and went.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

/** Reads /proc/PID/stat; null when the process is gone. */
function readStat(pid: number): Stat | null {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Parses a /proc/PID/stat line. The command name may hold spaces and parentheses: fields start after the last ')'. */
export function parseStat(pid: number, text: string): Stat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // Fields after "(comm)": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
  const f = text.slice(close + 2).trim().split(/\s+/);
  const n = (i: number): number => Number(f[i - 3] ?? NaN);
  const ticks = n(14) + n(15) + n(16) + n(17);
  return Number.isFinite(ticks) && Number.isFinite(n(4)) ? { pid, ppid: n(4), ticks } : null;
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s !== null) out.push(s);
  }
  return out;
}

/** CPU seconds so far of each root process and its live descendants (0 for a root that is gone). */
export function treeCpuSeconds(roots: readonly number[]): number[] {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  return roots.map((root) => {
    let ticks = 0;
    const seen = new Set<number>();
    const stack = [root];
    while (stack.length > 0 && seen.size < 10_000) {
      const pid = stack.pop() ?? 0;
      if (seen.has(pid)) continue;
      seen.add(pid);
      ticks += byPid.get(pid)?.ticks ?? 0;
      for (const c of children.get(pid) ?? []) stack.push(c.pid);
    }
    return ticks / TICKS_PER_SECOND;
  });
}

/** Named groups of process trees, e.g. { visitor: [pid], relay: [pid], provider: [pid] }. */
export type CpuRoles = Record<string, readonly number[]>;

/** Starts a CPU reading of every role; `stop()` returns the CPU seconds each role spent since. */
export function cpuMeter(roles: CpuRoles): { stop(): Record<string, number>; readonly startedWith: Readonly<Record<string, number>> } {
  const read = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [role, pids] of Object.entries(roles)) out[role] = treeCpuSeconds(pids).reduce((a, b) => a + b, 0);
    return out;
  };
  const before = read();
  return {
    /** Each role's CPU seconds at the first reading (not counted by stop()). */
    startedWith: before,
    stop() {
      const after = read();
      const out: Record<string, number> = {};
      for (const role of Object.keys(roles)) out[role] = (after[role] ?? 0) - (before[role] ?? 0);
      return out;
    },
  };
}

import { readFileSync } from 'node:fs';

/**
 * Voluntary context switches of a process's main thread: each one is the
 * event loop going to sleep, so their rate is the rate of wake-ups.
 */
export function voluntarySwitches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
  if (m === null) throw new Error(`no voluntary_ctxt_switches in /proc/${pid}/status`);
  return Number(m[1]);
}

export async function wakeupsPerSecond(pid: number, seconds: number): Promise<number> {
  const before = voluntarySwitches(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (voluntarySwitches(pid) - before) / seconds;
}

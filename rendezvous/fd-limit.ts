import { readFileSync } from 'node:fs';

/** Descriptors kept back from the connection cap: UDP sockets, log and tap files, the listener, Node's own. */
export const FD_RESERVE = 512;
/** The cap where the descriptor limit cannot be read (not Linux) or is no limit at all. */
export const FALLBACK_CONNECTION_CAP = 8192;
/** Never above this, whatever the limit: beyond it one node is the wrong answer (run several). */
export const MAX_CONNECTION_CAP = 262_144;

/** The soft "Max open files" of /proc/self/limits, or null when it cannot be read or says "unlimited". */
export function parseOpenFilesLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return null;
  return Number(soft);
}

/**
 * How many TCP connections this process can hold: its descriptor limit less a
 * reserve, so the cap refuses a connection with a clear count rather than
 * accept() failing with EMFILE (which would also stop relay joins and logins
 * of peers already known).
 */
export function connectionCapFromLimit(openFiles: number | null): number {
  if (openFiles === null) return FALLBACK_CONNECTION_CAP;
  return Math.max(256, Math.min(MAX_CONNECTION_CAP, openFiles - FD_RESERVE));
}

/** The default cap for this process (read once, at start). */
export function defaultConnectionCap(): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return FALLBACK_CONNECTION_CAP;
  }
  return connectionCapFromLimit(parseOpenFilesLimit(text));
}

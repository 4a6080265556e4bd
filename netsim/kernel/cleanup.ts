/**
 * Teardown that always happens: a process-wide registry of open labs with
 * SIGINT/SIGTERM/SIGHUP and 'exit' handlers (installed while at least one lab
 * is open), and `sweepStale` for leftovers of runs that crashed.
 */
import { execFileSync } from 'node:child_process';
import { pidAlive, run, sleep, sleepSync } from './exec.js';
import { DEFAULT_PREFIX, checkPrefix, nsCreatedMs, ownerAlive, parseNsName } from './names.js';
import { listNetnsEtc, removeNetnsEtc } from './netns-etc.js';

/** What the registry needs from a lab. */
export interface Closable {
  readonly runId: string;
  close(): Promise<unknown>;
  closeSync(): void;
}

const open = new Set<Closable>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Upper bound on teardown after a signal before the process dies anyway. */
const SIGNAL_TEARDOWN_MS = 20_000;
let installed = false;
let handlingSignal = false;

function onSignal(sig: NodeJS.Signals): void {
  if (handlingSignal) return; // a second signal while tearing down: keep going, the bound still holds
  handlingSignal = true;
  const labs = [...open];
  const all = Promise.allSettled(labs.map((l) => l.close()));
  const bound = sleep(SIGNAL_TEARDOWN_MS);
  void Promise.race([all, bound]).then(() => {
    for (const l of open) l.closeSync(); // whatever did not finish in time
    uninstall();
    // Die of the signal as if we had never caught it, unless someone else handles it.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

function onExit(): void {
  for (const l of [...open]) l.closeSync();
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', onExit);
}

export function registerLab(lab: Closable): void {
  open.add(lab);
  install();
}

export function unregisterLab(lab: Closable): void {
  open.delete(lab);
  if (open.size === 0 && !handlingSignal) uninstall();
}

/** Names from `ip netns list` (first word of each line). */
export async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { timeoutMs: 5000 });
  return parseNetnsList(r.stdout);
}

export function listNamespacesSync(): string[] {
  return parseNetnsList(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 }));
}

function parseNetnsList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

export async function netnsPids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns], { timeoutMs: 5000, allowFail: true });
  return parsePids(r.stdout);
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

function killQuiet(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Kills every process in the namespace (SIGKILL), waits (bounded) until they are
 * gone, then deletes the namespace. Resolves to whether it is gone.
 */
export async function destroyNamespace(ns: string, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 50 && Date.now() < deadline; round++) {
    const pids = await netnsPids(ns);
    if (pids.length === 0) break;
    for (const p of pids) killQuiet(p, 'SIGKILL');
    await sleep(20);
  }
  await run('ip', ['netns', 'del', ns], { timeoutMs: 5000, allowFail: true });
  removeNetnsEtc(ns); // `ip netns del` leaves /etc/netns/NS (the lab's hosts file) behind
  return !(await listNamespaces()).includes(ns);
}

export function destroyNamespaceSync(ns: string, timeoutMs = 3000): void {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 50 && Date.now() < deadline; round++) {
    let pids: number[] = [];
    try {
      pids = parsePids(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      break;
    }
    if (pids.length === 0) break;
    for (const p of pids) killQuiet(p, 'SIGKILL');
    sleepSync(20);
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { timeout: 3000, stdio: 'ignore' });
  } catch {
    /* not there */
  }
  removeNetnsEtc(ns);
}

/** Kills pids with SIGKILL and waits (bounded) until they are gone. */
export function killAllSync(pids: readonly number[], timeoutMs = 2000): void {
  for (const p of pids) killQuiet(p, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(pidAlive)) sleepSync(10);
}

export interface SweepResult {
  removed: string[];
  failed: string[];
  /** Namespaces with our prefix that belong to live runs (left alone). */
  live: string[];
}

/**
 * Removes leftovers of crashed earlier runs: namespaces named
 * `<prefix>-<runid>-<role>` whose owning PID (encoded in the run id) no longer
 * exists, or now belongs to a process started after the namespace. Processes
 * inside them are killed first. Namespaces of live runs are left alone.
 */
export async function sweepStale(prefix: string = DEFAULT_PREFIX): Promise<SweepResult> {
  checkPrefix(prefix);
  const result: SweepResult = { removed: [], failed: [], live: [] };
  for (const ns of await listNamespaces()) {
    const parsed = parseNsName(prefix, ns);
    if (!parsed) continue;
    if (ownerAlive(parsed.runId, nsCreatedMs(ns))) {
      result.live.push(ns);
      continue;
    }
    if (await destroyNamespace(ns)) result.removed.push(ns);
    else result.failed.push(ns);
  }
  // /etc/netns entries whose namespace is already gone (a crash between the two deletions).
  const present = new Set(await listNamespaces());
  for (const name of listNetnsEtc()) {
    const parsed = parseNsName(prefix, name);
    if (!parsed || present.has(name) || ownerAlive(parsed.runId)) continue;
    removeNetnsEtc(name);
    result.removed.push(`/etc/netns/${name}`);
  }
  return result;
}

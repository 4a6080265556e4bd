/**
 * What a reload of a config file changes, decided without touching anything
 * (sans-I/O): given the entries running now, the settings the process
 * started with and the file as it reads now, which [[provide]]/[[visit]]
 * entries start, stop, restart or stay, and which settings changed that only
 * a restart applies. config-runtime.ts carries the plan out.
 *
 * An entry is known by its kind and name ("provide nas"); a second entry of
 * the same kind and name (two visitors of one service on two ports) is
 * "visit nas#2". An entry is compared with the inherited top-level fields it
 * uses (server, token, portmap) and the defaults filled in, so a new
 * top-level token restarts exactly the entries that use it, and spelling out
 * a default changes nothing.
 */
import type { ConfigFile } from './config.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';

type ProvideEntry = NonNullable<ConfigFile['provide']>[number];
type VisitEntry = NonNullable<ConfigFile['visit']>[number];
/** What an entry inherits or defaults, resolved: every other field is the entry's own, as the file says it. */
type Resolved = { key: string; server: string; token: string; mode: 'xtcp' | 'stcp'; portmap: boolean };

export type ProvideSpec = Omit<ProvideEntry, keyof Resolved> & Resolved & { kind: 'provide' };
export type VisitSpec = Omit<VisitEntry, keyof Resolved | 'relay'> & Resolved & { kind: 'visit'; relay: 'fallback' | 'never' };

/**
 * One [[provide]] or [[visit]] entry with everything it inherits resolved.
 * Every field of the entry is carried over as it is, so a field the file
 * format gains later takes part in "changed" without a change here.
 */
export type EntrySpec = ProvideSpec | VisitSpec;

/** An entry whose settings differ: the names of the fields that did (never their values: secrets are among them). */
export interface ChangedEntry {
  before: EntrySpec;
  after: EntrySpec;
  fields: string[];
}

export interface ReloadPlan {
  /** Running now, gone from the file: stopped. */
  stop: EntrySpec[];
  /** In both, with different settings: stopped, then started with the new ones. */
  restart: ChangedEntry[];
  /** New in the file: started. */
  start: EntrySpec[];
  /** In both, the same: left running, sessions and connections untouched. */
  keep: EntrySpec[];
  /** Settings that changed but apply only at process start ([rendezvous], metrics, admin, log_*): left as they are. */
  needsRestart: string[];
}

/** The settings only a restart applies, as the file says them (the rendezvous's inherited token resolved). */
const STARTUP_SETTINGS = ['rendezvous', 'metrics', 'admin', 'log_format', 'log_level'] as const;

/** loadConfig has checked that every entry has a server and a token; an empty string here never reaches a start. */
function inherited(own: string | undefined, top: string | undefined): string {
  return own ?? top ?? '';
}

/** The file's entries, resolved, in file order: [[provide]] first, then [[visit]]. */
export function resolveEntries(cfg: ConfigFile): EntrySpec[] {
  const seen = new Map<string, number>();
  const keyOf = (kind: string, name: string): string => {
    const n = (seen.get(`${kind} ${name}`) ?? 0) + 1;
    seen.set(`${kind} ${name}`, n);
    return n === 1 ? `${kind} ${name}` : `${kind} ${name}#${n}`;
  };
  const out: EntrySpec[] = [];
  for (const p of cfg.provide ?? []) {
    out.push({
      ...p,
      kind: 'provide',
      key: keyOf('provide', p.name),
      server: inherited(p.server, cfg.server),
      token: inherited(p.token, cfg.token),
      mode: p.mode ?? PEER_DEFAULTS.mode,
      portmap: p.portmap ?? cfg.portmap ?? true,
    });
  }
  for (const v of cfg.visit ?? []) {
    out.push({
      ...v,
      kind: 'visit',
      key: keyOf('visit', v.name),
      server: inherited(v.server, cfg.server),
      token: inherited(v.token, cfg.token),
      mode: v.mode ?? PEER_DEFAULTS.mode,
      relay: v.relay ?? PEER_DEFAULTS.relay,
      portmap: v.portmap ?? cfg.portmap ?? true,
    });
  }
  return out;
}

/** The fields in which two specs of one key differ (by name). */
export function changedFields(a: EntrySpec, b: EntrySpec): string[] {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...fields].filter((f) => (a as unknown as Record<string, unknown>)[f] !== (b as unknown as Record<string, unknown>)[f]).sort();
}

/** Canonical text of a setting, for comparison only (key order does not matter). */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  const rec = value as Record<string, unknown>;
  return `{${Object.keys(rec)
    .filter((k) => rec[k] !== undefined)
    .sort()
    .map((k) => `${k}:${canonical(rec[k])}`)
    .join(',')}}`;
}

function startupSetting(cfg: ConfigFile, name: (typeof STARTUP_SETTINGS)[number]): unknown {
  if (name === 'rendezvous') return cfg.rendezvous ? { ...cfg.rendezvous, token: cfg.rendezvous.token ?? cfg.token } : undefined;
  return cfg[name];
}

/** The settings that differ between the file the process started with and the file now. */
export function settingsNeedingRestart(startup: ConfigFile, next: ConfigFile): string[] {
  return STARTUP_SETTINGS.filter((s) => canonical(startupSetting(startup, s)) !== canonical(startupSetting(next, s)));
}

/** The plan from what runs now (`running`, `startup`) to what `next` describes. */
export function planReload(running: readonly EntrySpec[], startup: ConfigFile, next: ConfigFile): ReloadPlan {
  const wanted = resolveEntries(next);
  const wantedByKey = new Map(wanted.map((e) => [e.key, e]));
  const runningByKey = new Map(running.map((e) => [e.key, e]));
  const plan: ReloadPlan = { stop: [], restart: [], start: [], keep: [], needsRestart: settingsNeedingRestart(startup, next) };
  for (const before of running) {
    const after = wantedByKey.get(before.key);
    if (after === undefined) plan.stop.push(before);
  }
  for (const after of wanted) {
    const before = runningByKey.get(after.key);
    if (before === undefined) plan.start.push(after);
    else {
      const fields = changedFields(before, after);
      if (fields.length === 0) plan.keep.push(before);
      else plan.restart.push({ before, after, fields });
    }
  }
  return plan;
}

/** True when carrying the plan out would change nothing that runs. */
export function planIsEmpty(plan: ReloadPlan): boolean {
  return plan.stop.length === 0 && plan.restart.length === 0 && plan.start.length === 0;
}

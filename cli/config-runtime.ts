/**
 * The [[provide]] and [[visit]] entries a `burrow -c FILE` process runs, and
 * their reload: the file is read again, reload-plan.ts says what changes,
 * and only that is touched. The entries that stay keep their sessions and
 * open connections; a file that does not load changes nothing.
 *
 * An entry that fails for good after it started (a wrong token or secret:
 * its 'fatal') ends the process when it came from the file at start, as
 * before reloads existed, so a supervisor shows it; when a reload started
 * it, only that entry stops ('entry-failed' in the log) and the others run
 * on: a typo in an edit must not take the working services down.
 *
 * One reload runs at a time; a request that comes meanwhile waits for it and
 * a third joins the second (it reads the file when its turn comes, so it
 * sees the newest text): never more than one waiting.
 */
import { BurrowError, isBurrowError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import type { RunningProvider, RunningVisitor } from '../api/index.js';
import type { Inspectable } from './admin.js';
import { loadConfig, type ConfigFile } from './config.js';
import type { MetricsEndpoint } from './metrics.js';
import { portmapAllowed } from './portmap-switch.js';
import { RetiredCounters } from './retired-counters.js';
import type { PeerMetricsSource, PeerRoleName } from '../peer/metrics.js';
import { planIsEmpty, planReload, resolveEntries, type EntrySpec } from './reload-plan.js';
import { runProvider, runVisitor, type FatalHandler, type Running, type UdpFlags } from './run.js';

/** An entry's proto and UDP flow fields, as run.ts takes them. */
function udpFields(e: { proto?: 'tcp' | 'udp' | undefined; udp_idle?: number | undefined; udp_flows?: number | undefined }): UdpFlags {
  return {
    ...(e.proto !== undefined ? { proto: e.proto } : {}),
    ...(e.udp_idle !== undefined ? { udpIdleSeconds: e.udp_idle } : {}),
    ...(e.udp_flows !== undefined ? { udpFlows: e.udp_flows } : {}),
  };
}

type EntryPeer = RunningProvider | RunningVisitor;

interface LiveEntry {
  spec: EntrySpec;
  peer: EntryPeer;
}

/** What a reload did, for the log and for `burrow reload`: entry keys ("provide nas") and setting names, never values. */
export interface ReloadReport {
  file: string;
  started: string[];
  stopped: string[];
  restarted: Array<{ key: string; changed: string[] }>;
  unchanged: string[];
  /** Entries the file wants that could not start: they are not running now (the others are unaffected). */
  failed: Array<{ key: string; error: string }>;
  /** Settings that changed in the file but apply only when the process starts again: left as they were. */
  needsRestart: string[];
  /** The entries running once the reload is done. */
  running: string[];
}

export interface ConfigRuntimeOptions {
  path: string;
  /** The file as it was when the process started: what the settings that cannot reload stay at. */
  startup: ConfigFile;
  log: Logger;
  onFatal: FatalHandler;
  metrics: MetricsEndpoint | undefined;
  /** What the admin socket reports: kept equal to the running entries. */
  peers: Inspectable[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ConfigRuntime implements Running {
  private readonly live = new Map<string, LiveEntry>();
  /** The reload running now (settled or not): the next one starts after it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A reload asked for while another runs, not started yet: later requests join it. */
  private waiting: Promise<ReloadReport> | null = null;
  private stopping: Promise<void> | null = null;
  /** Per role, the counts of entries stopped by reloads (see retired-counters.ts). */
  private readonly retired = new Map<PeerRoleName, RetiredCounters>();

  constructor(private readonly opts: ConfigRuntimeOptions) {}

  /** Starts every entry of the startup file, in file order; if one cannot start, the ones started stop and the error is thrown. */
  async start(): Promise<void> {
    for (const spec of resolveEntries(this.opts.startup)) {
      try {
        await this.startEntry(spec);
      } catch (err) {
        await this.stopAll();
        throw err;
      }
    }
  }

  /** The entries running now, in the order they started. */
  get running(): string[] {
    return [...this.live.keys()];
  }

  /** Reads the file again and applies what changed (see the file comment for how requests queue). */
  reload(): Promise<ReloadReport> {
    if (this.waiting !== null) return this.waiting;
    const next = this.tail.then(() => {
      this.waiting = null;
      return this.apply();
    });
    this.waiting = next;
    this.tail = next.catch(() => {});
    return next;
  }

  /** Stops every entry (after a reload under way has finished); reloads asked for later are refused. */
  stop(): Promise<void> {
    this.stopping ??= this.tail.then(() => this.stopAll());
    return this.stopping;
  }

  private async apply(): Promise<ReloadReport> {
    const { path, log } = this.opts;
    if (this.stopping !== null) throw new BurrowError('ERR_INVALID_ARGUMENT', 'the process is stopping: nothing reloaded');
    let next: ConfigFile;
    try {
      next = loadConfig(path);
    } catch (err) {
      log.error('reload-failed', { file: path, error: message(err), note: 'nothing changed: everything runs as before' });
      throw isBurrowError(err) ? err : new BurrowError('ERR_CONFIG', message(err), { cause: err });
    }
    const plan = planReload(
      [...this.live.values()].map((l) => l.spec),
      this.opts.startup,
      next,
    );
    const report: ReloadReport = {
      file: path,
      started: [],
      stopped: plan.stop.map((s) => s.key),
      restarted: [],
      unchanged: plan.keep.map((s) => s.key),
      failed: [],
      needsRestart: plan.needsRestart,
      running: [],
    };
    // Removed and changed entries stop first (together): a changed visitor may listen on the same port again.
    await Promise.all([...plan.stop, ...plan.restart.map((r) => r.before)].map((s) => this.stopEntry(s.key)));
    const starts: Array<{ spec: EntrySpec; changed?: string[] }> = [...plan.restart.map((r) => ({ spec: r.after, changed: r.fields })), ...plan.start.map((spec) => ({ spec }))];
    for (const { spec, changed } of starts) {
      try {
        await this.startEntry(spec, true);
        if (changed) report.restarted.push({ key: spec.key, changed });
        else report.started.push(spec.key);
      } catch (err) {
        report.failed.push({ key: spec.key, error: message(err) });
        log.error('reload-start-failed', { entry: spec.key, error: message(err), note: `${spec.key} is not running; the other entries are unaffected; fix the file and reload again` });
      }
    }
    report.running = this.running;
    if (plan.needsRestart.length > 0) {
      log.warn('reload-needs-restart', { settings: plan.needsRestart.join(', '), note: 'these settings apply only when the process starts: left as they were until a restart' });
    }
    // Log fields are scalars: each list is one comma-separated text ("" = none).
    const fields = {
      file: path,
      started: report.started.join(', '),
      stopped: report.stopped.join(', '),
      restarted: report.restarted.map((r) => `${r.key} (${r.changed.join(' ')})`).join(', '),
      unchanged: report.unchanged.join(', '),
      ...(report.failed.length > 0 ? { failed: report.failed.map((f) => f.key).join(', ') } : {}),
    };
    if (report.failed.length > 0) log.error('reloaded', fields);
    else log.info('reloaded', { ...fields, ...(planIsEmpty(plan) ? { note: 'no entry changed' } : {}) });
    return report;
  }

  private async startEntry(spec: EntrySpec, fromReload = false): Promise<void> {
    const { log, metrics, peers } = this.opts;
    let started: EntryPeer | null = null;
    const onFatal: FatalHandler = fromReload ? (err) => void this.entryFailed(spec.key, started, err).catch(() => {}) : this.opts.onFatal;
    const peer: EntryPeer =
      spec.kind === 'provide'
        ? await runProvider(
            { server: spec.server, token: spec.token, name: spec.name, secret: spec.secret, to: spec.to, mode: spec.mode, direct: { portmap: portmapAllowed(spec.portmap) }, ...udpFields(spec) },
            log.child({ component: 'provider' }),
            onFatal,
            metrics,
          )
        : await runVisitor(
            {
              server: spec.server,
              token: spec.token,
              name: spec.name,
              secret: spec.secret,
              listen: spec.listen,
              mode: spec.mode,
              relay: spec.relay,
              direct: { portmap: portmapAllowed(spec.portmap) },
              ...udpFields(spec),
            },
            log.child({ component: 'visitor' }),
            onFatal,
            metrics,
          );
    started = peer;
    this.live.set(spec.key, { spec, peer });
    peers.push(peer);
  }

  /** A reload-started entry failed for good (it has stopped itself): it leaves the running set alone. */
  private async entryFailed(key: string, peer: EntryPeer | null, err: BurrowError): Promise<void> {
    // Only if that very peer still holds the key (a later reload may have replaced it already).
    if (peer === null || this.live.get(key)?.peer !== peer) return;
    this.opts.log.error('entry-failed', { entry: key, code: err.code, error: err.message, note: `${key} stopped; the other entries run on; fix the file and reload again` });
    await this.stopEntry(key);
  }

  private async stopEntry(key: string): Promise<void> {
    const entry = this.live.get(key);
    if (entry === undefined) return;
    this.live.delete(key);
    const { peers, metrics, log } = this.opts;
    const at = peers.indexOf(entry.peer);
    if (at >= 0) peers.splice(at, 1);
    try {
      await entry.peer.stop();
    } catch (err) {
      log.warn('entry-stop-failed', { entry: key, error: message(err) });
    }
    // It leaves the scrape, its counts stay (in the role's retired source): the list stays as long as the file however often it reloads, and no total goes down.
    if (metrics) {
      const role = entry.spec.kind === 'provide' ? 'provider' : 'visitor';
      const list = metrics.peers(role);
      const i = list.indexOf(entry.peer.metricsSource);
      if (i >= 0) {
        list.splice(i, 1);
        this.retiredFor(role, list).absorb(entry.peer.metricsSource.counters);
      }
    }
  }

  private retiredFor(role: PeerRoleName, list: PeerMetricsSource[]): RetiredCounters {
    let retired = this.retired.get(role);
    if (retired === undefined) {
      retired = new RetiredCounters();
      this.retired.set(role, retired);
      list.push(retired);
    }
    return retired;
  }

  private async stopAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((k) => this.stopEntry(k)));
  }
}

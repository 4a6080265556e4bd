/**
 * `burrow reload [--admin PATH] [--json]`: asks a running `burrow -c FILE`
 * process, through its admin socket, to read its file again, and prints
 * what changed. Exits 1 when the file has an error (nothing changed) or an
 * entry could not start (the rest runs); the same as sending it SIGHUP,
 * except that the answer comes back here and not only to its log.
 */
import type { Command } from 'commander';
import { ADMIN_LIMITS } from '../peer/admin-server.js';
import type { ReloadReport } from './config-runtime.js';
import { askAdmin, pickAdminSocket } from './status.js';

/** The client waits a little longer than the server takes to say it is still at work. */
const RELOAD_ANSWER_TIMEOUT_MS = ADMIN_LIMITS.answerTimeoutMs + 5_000;

const list = (keys: readonly string[]): string => keys.join(', ');

export function reloadInWords(r: ReloadReport): string {
  const out = [`reloaded ${r.file}`];
  const changed = r.started.length + r.stopped.length + r.restarted.length + r.failed.length > 0;
  if (!changed) out.push('  no entry changed');
  if (r.started.length > 0) out.push(`  started: ${list(r.started)}`);
  if (r.stopped.length > 0) out.push(`  stopped: ${list(r.stopped)}`);
  for (const x of r.restarted) out.push(`  restarted: ${x.key} (changed: ${list(x.changed)})`);
  if (r.unchanged.length > 0) out.push(`  unchanged, left running: ${list(r.unchanged)}`);
  for (const f of r.failed) out.push(`  FAILED to start: ${f.key}: ${f.error}`);
  if (r.failed.length > 0) out.push(`  not running now: ${list(r.failed.map((f) => f.key))}; everything else above runs; fix the file and reload again`);
  if (r.needsRestart.length > 0) out.push(`  changed, but only a restart applies it (left as it was): ${list(r.needsRestart)}`);
  out.push(`  running: ${r.running.length > 0 ? list(r.running) : '(no entry)'}`);
  return `${out.join('\n')}\n`;
}

export function addReloadCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('reload')
    .description('make a running `burrow -c FILE` process read its file again: added entries start, removed ones stop, changed ones restart, the rest keep their connections')
    .option('--admin <path>', 'the process\'s admin socket (default: the only one running; `admin = "PATH"` in the file)')
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
Example:
  burrow -c ~/burrow.toml &     # running, with [[provide]] nas
  $EDITOR ~/burrow.toml         # add a [[provide]] ssh entry
  burrow reload                 # starts ssh; nas and its connections are untouched

Entries are matched by kind and name ([[provide]] "nas"). One whose settings
changed (its own, or the top-level server, token or portmap it uses)
restarts, closing its own connections; the others are not touched.

A file with an error changes nothing: the error is printed, exit code 1.
An entry that cannot start (a listen port in use) is reported and is not
running afterwards, the others keep running; exit code 1 as well. An entry
a reload started that later fails for good (wrong secret or token) stops
alone ("entry-failed" in the log); the process runs on.

[rendezvous], metrics, admin and log settings apply only at start: a change
there is reported and left as it was. SIGHUP to the process does the same
as this command (the outcome goes to its log). Only a process started with
-c FILE can reload; under the systemd unit, restart it instead (README).`,
    )
    .action(async (opts: { admin?: string; json?: boolean }) => {
      const path = await pickAdminSocket(opts.admin);
      const r = await askAdmin(path, 'reload', RELOAD_ANSWER_TIMEOUT_MS);
      if (!r.ok) {
        if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        // A file that does not load, or a process that cannot reload, changed nothing; a late answer may still be at work.
        const nothing = r.error.code === 'ERR_CONFIG' || r.error.code === 'ERR_INVALID_ARGUMENT';
        process.stderr.write(`burrow: reload failed: ${r.error.message}${nothing ? '\n(nothing changed: everything runs as before)' : ''}\n`);
        exit(1);
        return;
      }
      const report = r.status as ReloadReport;
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : reloadInWords(report));
      exit(report.failed.length > 0 ? 1 : 0);
    });
}

/**
 * Synchronous clean-ups (kill a process, remove a temp dir) that run when a
 * benchmark finishes, fails, or the bench process exits or is interrupted.
 * Kernel labs have their own registry (netsim/kernel/cleanup.ts); this is for
 * what the bench starts outside one.
 */
const pending = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  for (const f of [...pending]) {
    pending.delete(f);
    try {
      f();
    } catch {
      /* best effort: the next clean-up still runs */
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', runAll);
  installed = false;
  // Other handlers (a kernel lab tearing down) finish the job and re-raise; else die of the signal.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

/** Registers `f`; the returned function runs it now (once) and unregisters it. */
export function atTeardown(f: () => void): () => void {
  if (!installed) {
    installed = true;
    for (const s of SIGNALS) process.on(s, onSignal);
    process.on('exit', runAll);
  }
  pending.add(f);
  return () => {
    if (!pending.delete(f)) return;
    f();
  };
}

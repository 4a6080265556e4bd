import type { BurrowError } from '../src/errors.js';
import { Logger, type LogFormat } from '../src/log/logger.js';

/** EX_SOFTWARE (sysexits.h): an internal error, not the user's input or the network. */
export const EXIT_INTERNAL = 70;

/**
 * The process's last line of defence: an error that nothing else caught (a
 * promise rejected without a handler, an exception thrown from a callback)
 * leaves burrow in a state no code has reasoned about. It is logged with the
 * logger, once, and the process exits at once with EXIT_INTERNAL, so a
 * supervisor restarts it instead of a half-broken peer running on.
 */
export function installLastResort(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  let reported = false;
  const report = (kind: 'unhandled-rejection' | 'uncaught-exception') => (err: unknown) => {
    if (reported) return;
    reported = true;
    const e = err instanceof Error ? err : null;
    log.error('internal-error', {
      kind,
      error: e ? e.message : String(err),
      code: (e as Partial<BurrowError> | null)?.code,
      stack: e?.stack,
      note: 'this is a bug in burrow; please report it with this line',
    });
    exit(EXIT_INTERNAL);
  };
  process.on('unhandledRejection', report('unhandled-rejection'));
  process.on('uncaughtException', report('uncaught-exception'));
}

/** The log format asked for on the command line (the commands build their own loggers later). */
export function logFormatFromArgs(argv: readonly string[]): LogFormat {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--log-format' && argv[i + 1] === 'json') return 'json';
    if (a === '--log-format=json') return 'json';
  }
  return 'text';
}

import { Logger, type LogFormat, type LogLevel } from '../src/log/logger.js';
import { BurrowError } from '../src/errors.js';

export interface LogFlags {
  logFormat?: string | undefined;
  logLevel?: string | undefined;
}

export function makeLogger(flags: LogFlags, component: string): Logger {
  const format = (flags.logFormat ?? 'text') as LogFormat;
  const level = (flags.logLevel ?? 'info') as LogLevel;
  if (format !== 'text' && format !== 'json') {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--log-format must be "text" or "json", got "${format}"`);
  }
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `--log-level must be debug, info, warn or error, got "${level}"`);
  }
  return new Logger({ format, level, fields: { component } });
}

/**
 * One line per event that matters, to stderr: readable `key=value` text by
 * default, JSON lines with the same fields for machines. Written here rather
 * than taken from a logging library because we need exactly this: a stable
 * event name plus flat fields, synchronous, identical in both forms, with no
 * worker threads or transports.
 */
export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  sink?: LogSink;
  /** Fields on every line (component=visitor, service=nas). */
  fields?: LogFields;
}

export class Logger {
  private readonly format: LogFormat;
  private readonly level: LogLevel;
  private readonly minLevel: number;
  private readonly sink: LogSink;
  private readonly fields: LogFields;

  constructor(opts: LoggerOptions = {}) {
    this.format = opts.format ?? 'text';
    this.level = opts.level ?? 'info';
    this.minLevel = LEVELS[this.level];
    this.sink = opts.sink ?? process.stderr;
    this.fields = opts.fields ?? {};
  }

  child(fields: LogFields): Logger {
    return new Logger({
      format: this.format,
      level: this.level,
      sink: this.sink,
      fields: { ...this.fields, ...fields },
    });
  }

  debug(event: string, fields?: LogFields): void {
    this.log('debug', event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.log('info', event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.log('warn', event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.log('error', event, fields);
  }

  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (LEVELS[level] < this.minLevel) return;
    const all: LogFields = { ...this.fields, ...fields };
    const time = new Date().toISOString();
    if (this.format === 'json') {
      const record: Record<string, unknown> = { time, level, event };
      // A field may not overwrite the record's own keys; it keeps a marked name.
      for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k in record ? `_${k}` : k] = v;
      this.sink.write(JSON.stringify(record) + '\n');
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${event}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      line += ` ${k}=${formatValue(v)}`;
    }
    this.sink.write(line + '\n');
  }
}

function formatValue(v: string | number | boolean | null): string {
  if (typeof v !== 'string') return String(v);
  return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
}

/**
 * Logs at most `burst` events per `intervalMs`; when the next window opens,
 * one 'log-suppressed' line per event name says how many were dropped.
 */
export class RateLimitedLog {
  private windowStart = -Infinity;
  private count = 0;
  /** Per suppressed event name; bounded by the handful of names the code uses. */
  private readonly suppressed = new Map<string, { level: LogLevel; n: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly burst = 5,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  log(level: LogLevel, event: string, fields?: LogFields): void {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      for (const [name, s] of this.suppressed) this.logger.log(s.level, 'log-suppressed', { event: name, suppressed: s.n });
      this.suppressed.clear();
      this.windowStart = t;
      this.count = 0;
    }
    if (this.count < this.burst) {
      this.count++;
      this.logger.log(level, event, fields);
      return;
    }
    const s = this.suppressed.get(event);
    if (s) s.n++;
    else this.suppressed.set(event, { level, n: 1 });
  }
}

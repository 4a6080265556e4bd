/**
 * A log sink that keeps burrow's log events in memory, stamped with the
 * virtual clock instead of the wall clock, so two runs can be compared event
 * for event (and a test can read what the peers said).
 */
import { Logger, type LogLevel, type LogSink } from '../../src/log/logger.js';
import { fnv1aString } from './packet.js';

export interface LogEvent {
  /** Virtual time, ms. */
  t: number;
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

export class MemoryLog implements LogSink {
  readonly events: LogEvent[] = [];
  /** Events beyond `max` are counted, not kept (the digest still covers them). */
  dropped = 0;
  private h = 0x811c9dc5;
  private n = 0;

  constructor(
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  write(line: string): void {
    const record = JSON.parse(line) as Record<string, unknown>;
    const { time: _wallClock, level, event, ...fields } = record;
    const e: LogEvent = { t: this.now(), level: String(level), event: String(event), fields };
    this.n++;
    this.h = fnv1aString(`${e.t}|${e.level}|${e.event}|${JSON.stringify(fields)}\n`, this.h);
    if (this.events.length < this.max) this.events.push(e);
    else this.dropped++;
  }

  /** A Logger writing JSON records into this sink. */
  logger(fields: Record<string, string>, level: LogLevel = 'debug'): Logger {
    return new Logger({ format: 'json', level, sink: this, fields });
  }

  get digest(): string {
    return `${this.n}:${this.h.toString(16).padStart(8, '0')}`;
  }

  find(event: string): LogEvent | undefined {
    return this.events.find((e) => e.event === event);
  }
}

import type { Scheduler, TimerHandle } from '../../src/clock/scheduler.js';
import { RateLimitedLog, type Logger } from '../../src/log/logger.js';
import { FLOW_HEADER_BYTES, FlowTable, UDP_FLOW_TIMERS, UdpCounters, encodeFlowDatagram, type Flow, type UdpDropReason } from '../../src/udp/index.js';
import type { DatagramSendResult, DatagramSession } from './datagram-session.js';
import type { UdpSettings } from './udp-settings.js';

/** What status and metrics show of one session's UDP flows. */
export interface UdpSessionView {
  readonly counters: UdpCounters;
  readonly flows: number;
  readonly maxFlows: number;
  /** The largest datagram a client may send now (the path's limit less the flow header). */
  readonly datagramLimit: number;
}

const DROP_FOR: Record<Exclude<DatagramSendResult, 'sent'>, UdpDropReason> = {
  'too-big': 'too_big',
  'no-path': 'no_path',
  congested: 'congested',
  closed: 'closed',
};

export interface SessionFlowsOptions<T> {
  session: DatagramSession;
  settings: UdpSettings;
  scheduler: Scheduler;
  logger: Logger;
  /** The peer's totals: every count of this session is added there too. */
  peerCounters: UdpCounters;
  /** A flow ended (idle, or the session closed): release what it holds. */
  onFlowClosed(flow: Flow<T>): void;
}

/**
 * One session's UDP flows, for either peer: the flow table, its one idle
 * timer, the counts, and the way into the tunnel (a datagram the session
 * refuses is dropped, counted by reason, and the reason logged at a bounded
 * rate). The visitor and provider shells add their sockets.
 */
export class SessionFlows<T> implements UdpSessionView {
  readonly table: FlowTable<T>;
  readonly counters: UdpCounters;
  private readonly warn: RateLimitedLog;
  private timer: TimerHandle | null = null;
  private ended = false;

  constructor(private readonly o: SessionFlowsOptions<T>) {
    this.table = new FlowTable<T>({ maxFlows: o.settings.maxFlows, idleMs: o.settings.idleMs });
    this.counters = new UdpCounters(o.peerCounters);
    this.warn = new RateLimitedLog(o.logger, UDP_FLOW_TIMERS.warnBurst, UDP_FLOW_TIMERS.warnWindowMs, () => o.scheduler.now());
  }

  get flows(): number {
    return this.table.size;
  }

  get maxFlows(): number {
    return this.table.maxFlows;
  }

  get datagramLimit(): number {
    return Math.max(0, this.o.session.datagramLimit - FLOW_HEADER_BYTES);
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Opens a flow, or counts and logs the refusal (null). */
  open(key: string, data: T, id?: number): Flow<T> | null {
    if (this.ended) {
      this.counters.dropped('closed');
      return null;
    }
    const r = this.table.open(key, this.o.scheduler.now(), data, id);
    if (r.kind === 'refused') {
      this.counters.dropped(r.reason === 'flow_cap' ? 'flow_cap' : 'malformed');
      if (r.reason === 'flow_cap') {
        this.warn.log('warn', 'udp-flow-refused', { reason: `the session has its maximum of ${this.table.maxFlows} flows (--udp-flows)`, flows: this.table.size });
      }
      return null;
    }
    this.counters.flowOpened();
    this.o.logger.debug('udp-flow', { flow: r.flow.id, key: r.flow.key });
    this.arm();
    return r.flow;
  }

  /** Sends a flow's datagram to the other peer; false (counted, maybe logged) when the session refused it. */
  sendToPeer(flow: Flow<T>, payload: Uint8Array): boolean {
    const result = this.o.session.sendDatagram(encodeFlowDatagram(flow.id, payload));
    if (result === 'sent') {
      flow.counts.datagramsSent++;
      flow.counts.bytesSent += payload.length;
      this.counters.sent(payload.length);
      this.table.touch(flow, this.o.scheduler.now());
      return true;
    }
    this.drop(DROP_FOR[result], payload.length);
    return false;
  }

  /** A datagram from the other peer went out of the tunnel on this flow. */
  delivered(flow: Flow<T>, bytes: number): void {
    flow.counts.datagramsReceived++;
    flow.counts.bytesReceived += bytes;
    this.counters.received(bytes);
    this.table.touch(flow, this.o.scheduler.now());
  }

  /** Counts a drop; the reasons a user can act on are logged (rate-limited). */
  drop(reason: UdpDropReason, bytes?: number): void {
    this.counters.dropped(reason);
    if (reason === 'too_big') {
      const limit = this.datagramLimit;
      this.warn.log('warn', 'udp-datagram-too-big', {
        size: bytes,
        limit,
        note: `a datagram of ${bytes ?? '?'} bytes does not fit the current path (at most ${limit}); it was dropped, never fragmented. Lower the application's MTU (e.g. WireGuard MTU 1280)`,
      });
    } else if (reason === 'congested') {
      this.warn.log('warn', 'udp-datagram-dropped', { reason: 'the relay is congested' });
    }
  }

  /** A flow's socket failed: it ends now. */
  closeFlow(flow: Flow<T>, why: string): void {
    if (this.table.remove(flow)) this.ended_(flow, why);
  }

  /** The session ended: every flow ends, once. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.timer?.cancel();
    this.timer = null;
    for (const flow of this.table.clear()) this.ended_(flow, 'session closed');
  }

  private ended_(flow: Flow<T>, why: string): void {
    this.counters.flowClosed();
    const c = flow.counts;
    this.o.logger.info('udp-flow-closed', {
      flow: flow.id,
      key: flow.key,
      why,
      seconds: Math.round((this.o.scheduler.now() - flow.openedAt) / 100) / 10,
      datagramsSent: c.datagramsSent,
      bytesSent: c.bytesSent,
      datagramsReceived: c.datagramsReceived,
      bytesReceived: c.bytesReceived,
    });
    this.o.onFlowClosed(flow);
  }

  /** One timer for the whole table, at its first deadline; a touched flow makes it fire early and re-arm. */
  private arm(): void {
    if (this.timer !== null || this.ended) return;
    const at = this.table.nextDeadline();
    if (at === null) return;
    this.timer = this.o.scheduler.at(at, () => {
      this.timer = null;
      for (const flow of this.table.expire(this.o.scheduler.now())) this.ended_(flow, 'idle');
      this.arm();
    });
  }
}

import { BurrowError } from '../errors.js';
import { MAX_FLOW_ID } from './flow-frame.js';
import { zeroCounts, type UdpCounts } from './udp-counters.js';

/** One UDP flow: a client address:port (visitor) or a flow id's target socket (provider). */
export interface Flow<T> {
  readonly id: number;
  /** What the flow is found by besides its id: the client's "address|port" on the visitor. */
  readonly key: string;
  readonly openedAt: number;
  lastActive: number;
  readonly counts: UdpCounts;
  /** The shell's own state (where replies go, the target socket). */
  readonly data: T;
}

export interface FlowTableOptions {
  /** Flows at most; opening one more is refused. */
  maxFlows: number;
  /** A flow idle this long (no datagram either way) expires. */
  idleMs: number;
}

export type OpenResult<T> = { kind: 'opened'; flow: Flow<T> } | { kind: 'refused'; reason: 'flow_cap' | 'id_in_use' };

/**
 * The flows of one session, sans-I/O: the clock comes in as `now`, and out
 * come the flows opened, refused and expired, and the next deadline. The
 * shell owns sockets and the one timer it arms at nextDeadline().
 *
 * Flows are kept in order of last activity (a Map re-inserted on every
 * touch), so the one that expires first is always the first: touch, expire
 * and nextDeadline are O(1) per flow.
 */
export class FlowTable<T> {
  private readonly byId = new Map<number, Flow<T>>();
  private readonly byKey = new Map<string, Flow<T>>();
  private nextId = 1;

  constructor(private readonly opts: FlowTableOptions) {
    if (!Number.isInteger(opts.maxFlows) || opts.maxFlows < 1) throw new BurrowError('ERR_INVALID_ARGUMENT', `maxFlows must be a positive integer, got ${opts.maxFlows}`);
    if (!(opts.idleMs > 0)) throw new BurrowError('ERR_INVALID_ARGUMENT', `idleMs must be positive, got ${opts.idleMs}`);
  }

  get size(): number {
    return this.byId.size;
  }

  get idleMs(): number {
    return this.opts.idleMs;
  }

  get maxFlows(): number {
    return this.opts.maxFlows;
  }

  get(id: number): Flow<T> | undefined {
    return this.byId.get(id);
  }

  find(key: string): Flow<T> | undefined {
    return this.byKey.get(key);
  }

  /**
   * Opens a flow under `key`. The visitor lets the table choose the id (the
   * next free one, wrapping past 2^32-1); the provider passes the id the
   * visitor chose.
   */
  open(key: string, now: number, data: T, id?: number): OpenResult<T> {
    if (this.byId.size >= this.opts.maxFlows) return { kind: 'refused', reason: 'flow_cap' };
    const flowId = id ?? this.freeId();
    if (this.byId.has(flowId) || this.byKey.has(key)) return { kind: 'refused', reason: 'id_in_use' };
    const flow: Flow<T> = { id: flowId, key, openedAt: now, lastActive: now, counts: zeroCounts(), data };
    this.byId.set(flowId, flow);
    this.byKey.set(key, flow);
    return { kind: 'opened', flow };
  }

  /** A datagram went through the flow (either way): it lives another idleMs. */
  touch(flow: Flow<T>, now: number): void {
    if (this.byId.get(flow.id) !== flow) return;
    flow.lastActive = now;
    // Move it to the end: the map stays ordered by last activity.
    this.byId.delete(flow.id);
    this.byId.set(flow.id, flow);
  }

  /** When the first flow expires (null with no flows): the shell's one timer. */
  nextDeadline(): number | null {
    for (const flow of this.byId.values()) return flow.lastActive + this.opts.idleMs;
    return null;
  }

  /** Removes and returns the flows idle for idleMs or more at `now`. */
  expire(now: number): Flow<T>[] {
    const out: Flow<T>[] = [];
    for (const flow of this.byId.values()) {
      if (flow.lastActive + this.opts.idleMs > now) break;
      out.push(flow);
    }
    for (const flow of out) this.remove(flow);
    return out;
  }

  /** Removes one flow (its socket failed); false if it was not there. */
  remove(flow: Flow<T>): boolean {
    if (this.byId.get(flow.id) !== flow) return false;
    this.byId.delete(flow.id);
    this.byKey.delete(flow.key);
    return true;
  }

  /** Removes and returns every flow (the session ended). */
  clear(): Flow<T>[] {
    const all = [...this.byId.values()];
    this.byId.clear();
    this.byKey.clear();
    return all;
  }

  /** The next id not in use; there is always one, since flows are far fewer than 2^32. */
  private freeId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_FLOW_ID ? 1 : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }
}

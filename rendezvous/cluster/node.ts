import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { cryptoRandom, type RandomSource } from '../../src/clock/random.js';
import { after, realScheduler, type Scheduler, type TimerHandle } from '../../src/clock/scheduler.js';
import { SERVICE_NAME } from '../../src/control/messages.js';
import { BurrowError } from '../../src/errors.js';
import { Logger, RateLimitedLog } from '../../src/log/logger.js';
import { BusReceiver, BusSender } from './bus-codec.js';
import { CLAIM_BATCH, ClaimBook, type ClaimAnswer, type ClaimOutput } from './claims.js';
import type { ClusterHealth, ClusterView } from './health.js';
import { channelOf, checkNodeId, type NodeAddress } from './keys.js';
import { LeaseMachine, type LeaseLossReason, type LeaseOutput } from './lease.js';
import { formatLease, isAdvertise } from './lease-value.js';
import { LookupCache, type ServiceLocation } from './lookup-cache.js';
import type { ClusterMessage } from './messages.js';
import { claimNames, leave, listNodes, lookupName, publishTo, releaseName, renewLease } from './redis-ops.js';
import { ClusterSecret } from './secret.js';
import { checkTimers, CLUSTER_TIMERS, type ClusterTimers } from './timers.js';

export interface ClusterNodeOptions {
  /** `redis://[:password@]host:port[/db]`, `rediss://…`, or a unix socket path starting with "/". */
  redis: string;
  nodeId: string;
  /** HOST:PORT where peers and other nodes reach this node. */
  advertise: string;
  /** Shared by every node: authenticates leases, claims and bus messages. */
  secret: string | Uint8Array;
  timers?: Partial<ClusterTimers>;
  /** Names this node may claim at once. */
  maxClaims?: number;
  /** Monotonic clock and timers (lease schedule). */
  scheduler?: Scheduler;
  /** Wall clock, ms since the epoch (bus timestamps). */
  wallClock?: () => number;
  random?: RandomSource;
  logger?: Logger;
}

export type SendResult = { readonly ok: true } | { readonly ok: false; readonly code: 'node-gone' | 'too-big' | 'unavailable' };

export interface ClusterNodeEvents {
  /** The lease was (re)acquired: the node's claims are being made again. */
  acquired: [];
  lost: [reason: LeaseLossReason];
  /** A name this node held was taken by a live node: tell its provider "name taken". */
  'claim-lost': [name: string, owner: string];
  message: [from: NodeAddress, msg: ClusterMessage];
  redis: [state: 'connected' | 'disconnected'];
}

/**
 * One rendezvous node's membership of the cluster: the thin I/O shell around
 * LeaseMachine, ClaimBook, LookupCache and the bus codec. Two Redis
 * connections (commands, and the subscription to its own bus channel), one
 * timer at the cores' next deadline.
 */
export class ClusterNode extends EventEmitter<ClusterNodeEvents> {
  readonly self: NodeAddress;
  readonly advertise: string;
  private readonly timers: ClusterTimers;
  private readonly secret: ClusterSecret;
  private readonly sched: Scheduler;
  private readonly wall: () => number;
  private readonly log: Logger;
  private readonly redisErrors: RateLimitedLog;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly leaseValue: string;
  private readonly lease: LeaseMachine;
  private readonly book: ClaimBook;
  private readonly cache: LookupCache;
  private readonly sender: BusSender;
  private readonly receiver: BusReceiver;
  private wakeup: { at: number; timer: TimerHandle } | null = null;
  private closed = false;
  private connected = false;
  /** The bus connection is up (ioredis subscribes again by itself after a reconnect). */
  private listening = false;
  /** What the connection last failed with: ioredis's own rejection only says "Connection is closed". */
  private lastRedisError: string | null = null;
  private readonly counts = { sent: 0, nodeGone: 0, sendFailed: 0, claimsLost: 0 };

  constructor(opts: ClusterNodeOptions) {
    super();
    if (!isAdvertise(opts.advertise)) throw new BurrowError('ERR_CONFIG', 'advertise must be HOST:PORT');
    this.timers = checkTimers({ ...CLUSTER_TIMERS, ...opts.timers });
    this.secret = new ClusterSecret(opts.secret);
    this.sched = opts.scheduler ?? realScheduler;
    this.wall = opts.wallClock ?? (() => Date.now());
    const random = opts.random ?? cryptoRandom;
    this.self = { node: checkNodeId(opts.nodeId), incarnation: random.bytes(12).toString('hex') };
    this.advertise = opts.advertise;
    this.log = (opts.logger ?? new Logger()).child({ component: 'cluster', node: this.self.node });
    this.redisErrors = new RateLimitedLog(this.log, undefined, undefined, () => this.sched.now());
    this.leaseValue = formatLease(this.secret, { ...this.self, advertise: this.advertise });
    this.lease = new LeaseMachine(this.timers, this.sched.now());
    this.book = new ClaimBook(this.timers, opts.maxClaims ?? 10_000);
    this.cache = new LookupCache(this.timers);
    this.sender = new BusSender(this.secret, this.self);
    this.receiver = new BusReceiver(this.secret, this.self, this.timers);
    const redisOpts: RedisOptions = {
      lazyConnect: true,
      // A command while disconnected fails at once instead of waiting in a queue: a renew must not arrive late.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.timers.redisCommandTimeoutMs,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(50 * times, this.timers.redisReconnectMaxMs),
    };
    this.cmd = new Redis(opts.redis, redisOpts);
    this.sub = new Redis(opts.redis, redisOpts);
    for (const c of [this.cmd, this.sub]) {
      c.on('error', (err: Error) => {
        this.lastRedisError = err.message;
        this.redisErrors.log('warn', 'cluster-redis-error', { reason: err.message });
      });
    }
    this.cmd.on('ready', () => this.onRedisState(true));
    this.cmd.on('close', () => this.onRedisState(false));
    this.sub.on('ready', () => (this.listening = true));
    this.sub.on('close', () => (this.listening = false));
    this.sub.on('messageBuffer', (_channel: Buffer, frame: Buffer) => this.onFrame(frame));
  }

  /** Connects, subscribes, and waits (at most two lease TTLs) for the lease. */
  async start(): Promise<void> {
    // Listening before connecting: the first renew may be answered while we still wait for the subscription.
    const wait: { timer: TimerHandle | null } = { timer: null };
    const acquired = new Promise<boolean>((resolve) => {
      this.once('acquired', () => {
        wait.timer?.cancel();
        resolve(true);
      });
      wait.timer = after(this.sched, 2 * this.timers.leaseTtlMs, () => resolve(false));
    });
    try {
      await Promise.all([this.cmd.connect(), this.sub.connect()]);
      await this.sub.subscribe(channelOf(this.self.node));
    } catch (err) {
      wait.timer?.cancel();
      await this.abandon();
      throw new BurrowError('ERR_CLUSTER_UNAVAILABLE', `cannot reach Redis: ${this.lastRedisError ?? (err as Error).message}`, { cause: err });
    }
    this.pump();
    if (!(await acquired)) {
      await this.abandon();
      throw new BurrowError('ERR_CLUSTER_UNAVAILABLE', `no lease for node "${this.self.node}" (another process holds it, or Redis does not answer)`);
    }
    this.log.info('cluster-joined', { incarnation: this.self.incarnation, advertise: this.advertise });
  }

  /**
   * Claims names for this node's providers. One answer per name; 'taken'
   * names are not kept, others are (and claimed again every refresh) until
   * release(). Throws ERR_CLUSTER_LIMIT beyond maxClaims.
   */
  async claim(names: readonly string[]): Promise<ClaimAnswer[]> {
    const bad = names.find((n) => !SERVICE_NAME.test(n));
    if (bad !== undefined) throw new BurrowError('ERR_INVALID_ARGUMENT', `"${bad.slice(0, 80)}" is not a service name`);
    if (!this.book.want(names, this.sched.now())) throw new BurrowError('ERR_CLUSTER_LIMIT', 'this node claims too many names');
    const answers: ClaimAnswer[] = [];
    for (let i = 0; i < names.length; i += CLAIM_BATCH) {
      const batch = names.slice(i, i + CLAIM_BATCH);
      const a = await claimNames(this.cmd, this.secret, this.self, batch, this.timers.claimTtlMs);
      this.book.claimed(batch, a, 'request');
      answers.push(...a);
    }
    this.pump();
    return answers;
  }

  /** The timer table this node runs with (defaults plus overrides). */
  get timerTable(): ClusterTimers {
    return this.timers;
  }

  /** True if Redis confirmed this node's claim of `name` (at its last claim). */
  holds(name: string): boolean {
    return this.book.isHeld(name);
  }

  release(name: string): void {
    this.book.release(name);
    this.pump();
  }

  /** Where a name lives now, or null (unclaimed, its node's lease lapsed, or unverifiable). */
  async lookup(name: string, opts: { fresh?: boolean } = {}): Promise<ServiceLocation | null> {
    if (!SERVICE_NAME.test(name)) return null;
    const now = this.sched.now();
    if (opts.fresh !== true) {
      const hit = this.cache.get(name, now);
      if (hit !== null) return hit;
    }
    const a = await lookupName(this.cmd, this.secret, name);
    if (a.kind === 'error') throw new BurrowError('ERR_CLUSTER_UNAVAILABLE', 'Redis did not answer the lookup');
    if (a.kind !== 'found') {
      this.cache.forget(name);
      if (a.kind === 'unverified') this.redisErrors.log('warn', 'cluster-unverified-claim', { service: name });
      return null;
    }
    this.cache.put(name, a.loc, this.sched.now());
    return a.loc;
  }

  /**
   * One message to a node incarnation. 'node-gone': that incarnation's lease
   * is not live (dead, frozen, restarted as another one) or nobody listens on
   * its channel: look up again.
   */
  async send(to: NodeAddress, msg: ClusterMessage): Promise<SendResult> {
    const frame = this.sender.seal(to, msg, this.wall());
    if (frame === null) {
      this.counts.sendFailed++;
      return { ok: false, code: 'too-big' };
    }
    const receivers = await publishTo(this.cmd, to, frame);
    if (receivers === 'error') {
      this.counts.sendFailed++;
      return { ok: false, code: 'unavailable' };
    }
    if (receivers === 0 || receivers === 'no-lease') {
      this.counts.nodeGone++;
      this.cache.forgetNode(to.node);
      return { ok: false, code: 'node-gone' };
    }
    this.counts.sent++;
    return { ok: true };
  }

  /** What this node knows without asking Redis. */
  status(): ClusterHealth {
    const lease = this.lease.status(this.sched.now());
    return {
      node: this.self.node,
      incarnation: this.self.incarnation,
      advertise: this.advertise,
      redis: this.connected ? 'connected' : 'disconnected',
      lease: { held: lease.held, ageMs: lease.ageMs, ttlMs: this.timers.leaseTtlMs, losses: lease.losses },
      claims: { ...this.book.stats, lost: this.counts.claimsLost },
      bus: { listening: this.listening, sent: this.counts.sent, nodeGone: this.counts.nodeGone, sendFailed: this.counts.sendFailed, received: this.receiver.accepted, dropped: { ...this.receiver.drops } },
    };
  }

  /** status() plus the live nodes, read from their leases. */
  async view(): Promise<ClusterView> {
    const listed = this.connected ? await listNodes(this.cmd, this.secret) : null;
    return { ...this.status(), nodes: listed?.nodes ?? null, unverifiedLeases: listed?.unverified ?? 0 };
  }

  /** Leaves: the lease is deleted, so its names stop resolving at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    if (this.connected) await leave(this.cmd, this.self.node, this.leaseValue);
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  /** Goes without a word, like a killed or frozen process: the lease lapses on its own. */
  async abandon(): Promise<void> {
    this.stop();
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private stop(): void {
    this.closed = true;
    this.lease.close();
    this.wakeup?.timer.cancel();
    this.wakeup = null;
  }

  private onRedisState(up: boolean): void {
    if (this.closed || up === this.connected) return;
    this.connected = up;
    this.emit('redis', up ? 'connected' : 'disconnected');
    this.log.info(up ? 'cluster-redis-connected' : 'cluster-redis-disconnected');
    // Back after a break: Redis may have restarted empty. Renew now rather than at the next refresh.
    if (up) {
      this.lease.renewSoon(this.sched.now());
      this.pump();
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.closed) return;
    const r = this.receiver.open(frame, this.wall());
    if (!r.ok) {
      this.redisErrors.log('warn', 'cluster-bus-dropped', { reason: r.reason });
      return;
    }
    if (r.msg.type === 'ping') void this.send(r.from, { type: 'pong', nonce: r.msg.nonce });
    this.emit('message', r.from, r.msg);
  }

  /** Runs the cores' due work and carries out what they ask, then re-arms the one timer. */
  private pump(): void {
    if (this.closed) return;
    const now = this.sched.now();
    this.lease.handleTimeout(now);
    for (const o of this.lease.takeOutputs()) this.onLeaseOutput(o, now);
    this.book.handleTimeout(now);
    for (const o of this.book.takeOutputs()) this.onClaimOutput(o);
    this.arm();
  }

  private onLeaseOutput(o: LeaseOutput, now: number): void {
    switch (o.kind) {
      case 'renew':
        void renewLease(this.cmd, this.self.node, this.leaseValue, this.timers.leaseTtlMs).then((r) => {
          this.lease.renewed(r, o.sentAt, this.sched.now());
          this.pump();
        });
        return;
      case 'acquired':
        this.book.reclaimAll(now);
        this.emit('acquired');
        return;
      case 'lost':
        this.log.warn('cluster-lease-lost', { reason: o.reason });
        this.emit('lost', o.reason);
        return;
    }
  }

  private onClaimOutput(o: ClaimOutput): void {
    switch (o.kind) {
      case 'claim':
        void claimNames(this.cmd, this.secret, this.self, o.names, this.timers.claimTtlMs).then((a) => {
          this.book.claimed(o.names, a, 'refresh');
          this.pump();
        });
        return;
      case 'release':
        void releaseName(this.cmd, this.self, o.name);
        return;
      case 'lost':
        this.counts.claimsLost++;
        this.log.warn('cluster-claim-lost', { service: o.name, owner: o.owner });
        this.emit('claim-lost', o.name, o.owner);
        return;
    }
  }

  private arm(): void {
    const l = this.lease.nextDeadline();
    const b = this.book.nextDeadline();
    const at = l === null ? b : b === null ? l : Math.min(l, b);
    if (at === null) return;
    if (this.wakeup !== null && this.wakeup.at <= at) return;
    this.wakeup?.timer.cancel();
    const timer = this.sched.at(at, () => {
      this.wakeup = null;
      this.pump();
    });
    this.wakeup = { at, timer };
  }
}

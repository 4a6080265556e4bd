import { EventEmitter } from 'node:events';
import { BurrowError } from '../errors.js';
import type { Role } from '../role.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import type { DatagramPath } from '../path/datagram-path.js';
import { MuxSession, type MuxOptions, type MuxStream } from '../mux/index.js';
import type { KcpConnection, KcpOptions } from '../kcp/index.js';
import type { SessionKeys } from '../crypto/index.js';
import { SecureKcp } from './secure-kcp.js';
import { KcpPump } from './kcp-pump.js';

export interface TunnelSessionOptions {
  keys: SessionKeys;
  role: Role;
  /** KCP conversation id; both ends must agree. Default 1. */
  conv?: number;
  scheduler?: Scheduler;
  /** Largest sealed packet on any path. Default 1400 bytes of UDP payload. */
  packetMtu?: number;
  /** KCP tuning; defaults are tuned for tunnels (fast3, big windows, no congestion window). */
  kcp?: Omit<KcpOptions, 'conv' | 'output' | 'mtu'>;
  mux?: Partial<Omit<MuxOptions, 'role'>>;
  /**
   * The session is declared dead when no authenticated packet arrived for
   * this long. The mux keepalive keeps a healthy idle session well inside it.
   */
  idleTimeoutMs?: number;
  /**
   * Back-pressure: the mux stops writing while more than this many KCP
   * segments wait to be sent or acknowledged.
   */
  maxWaitSnd?: number;
  /**
   * Received bytes all streams together may hold for their readers. Over it,
   * the session stops taking data out of KCP, whose receive window then
   * closes and stops the sender: readers that stall cannot grow memory past
   * this, however many streams they hold (each stream alone is bounded by its
   * mux window). Default 32 MiB.
   */
  receiveBudget?: number;
}

export interface TunnelSessionStats {
  packetsIn: number;
  packetsOut: number;
  /** Packets that failed authentication, were replayed, or were malformed. */
  packetsDropped: number;
  pathSwitches: number;
}

const DEFAULT_KCP: Omit<KcpOptions, 'conv' | 'output' | 'mtu'> = {
  mode: 'fast3',
  sndwnd: 1024,
  rcvwnd: 1024,
  noCongestion: true,
  stream: true,
  // A full window in one flush takes tens of ms of sealing and sending, during
  // which no ACK is read and every segment carries the flush's start time:
  // RTT samples swell and RTOs fire spuriously. 64 segments is ~1.5 ms.
  maxBurst: 64,
};

/**
 * Per-stream mux window. The mux's 256 KiB default stalls a bulk stream on
 * grant round trips well below what KCP carries (kcptun's smux uses 2 MiB);
 * 1 MiB keeps the pipe full while staying under the KCP window, so the
 * queue in front of a slower receiver stays short of the RTO.
 */
const DEFAULT_STREAM_WINDOW = 1024 * 1024;

/**
 * A multiplexed, encrypted KCP session between two peers, riding on whichever
 * datagram path is current. Thin I/O around the SecureKcp core: it wires the
 * core to a Scheduler (timers from `check()`, one coalesced flush per
 * event-loop turn), to the mux above and to paths below.
 *
 * Events: 'stream' (MuxStream), 'path' (DatagramPath, previous | null),
 * 'close' (BurrowError | undefined).
 */
export class TunnelSession extends EventEmitter {
  readonly mux: MuxSession;
  private readonly core: SecureKcp;
  private readonly scheduler: Scheduler;
  private path: DatagramPath | null = null;
  private readonly idleTimeoutMs: number;
  private readonly maxWaitSnd: number;
  private readonly receiveBudget: number;
  private lastAuthenticatedAt: number;
  private readonly pump: KcpPump;
  private idleTimer: TimerHandle | null = null;
  private muxBlocked = false;
  private closedWith: BurrowError | undefined | null = null;
  private dropped = 0;
  private switches = 0;

  constructor(opts: TunnelSessionOptions) {
    super();
    this.scheduler = opts.scheduler ?? realScheduler;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    const kcp = { ...DEFAULT_KCP, ...opts.kcp };
    this.maxWaitSnd = opts.maxWaitSnd ?? 2 * (kcp.sndwnd ?? 1024);
    this.receiveBudget = opts.receiveBudget ?? 32 * 1024 * 1024;
    this.lastAuthenticatedAt = this.scheduler.now();
    this.core = new SecureKcp({
      keys: opts.keys,
      conv: opts.conv ?? 1,
      packetMtu: opts.packetMtu ?? 1400,
      kcp,
      onPacket: (sealed) => this.path?.send(sealed),
    });
    this.pump = new KcpPump(this.core, this.scheduler, () => this.onPumpTurn());
    this.mux = new MuxSession(
      {
        write: (bytes) => {
          if (this.closedWith !== null) return false;
          this.core.send(bytes);
          this.pump.kick();
          if (this.core.waitSnd() >= this.maxWaitSnd) {
            this.muxBlocked = true;
            return false;
          }
          return true;
        },
      },
      {
        keepaliveIntervalMs: 10_000,
        keepaliveTimeoutMs: 0,
        initialWindow: DEFAULT_STREAM_WINDOW,
        ...opts.mux,
        role: opts.role,
        scheduler: this.scheduler,
      },
    );
    this.mux.on('stream', (stream: MuxStream) => this.emit('stream', stream));
    this.mux.watchReceiveBudget(this.receiveBudget);
    // Readers caught up: take data out of KCP again (its window reopens).
    this.mux.on('receive-room', () => this.pump.kick());
    this.mux.on('close', (err?: BurrowError) => this.close(err));
    this.armIdleTimer();
  }

  /**
   * Where packets go from now on. Incoming packets are accepted from any path.
   * `previousDied`: the old path stopped delivering, so what is in flight is
   * resent on the new one at once (not after KCP's backed-off timers); when
   * the old path still works (relay -> direct upgrade) it delivers its share.
   */
  setPath(path: DatagramPath, opts: { previousDied?: boolean } = {}): void {
    const previous = this.path;
    if (previous === path) return;
    this.path = path;
    if (previous !== null) this.switches++;
    this.emit('path', path, previous);
    if (opts.previousDied) this.core.kcp.expediteRetransmit(this.scheduler.now());
    this.pump.kick();
  }

  get currentPath(): DatagramPath | null {
    return this.path;
  }

  /**
   * Hand this to every path as its receiver. Returns true when the packet was
   * authentic (a direct path's liveness counts only those).
   */
  readonly receive = (packet: Buffer, _path?: DatagramPath): boolean => {
    if (this.closedWith !== null) return false;
    const now = this.scheduler.now();
    if (!this.core.receive(packet, now)) {
      this.dropped++;
      return false;
    }
    this.lastAuthenticatedAt = now;
    this.pump.kick();
    return true;
  };

  openStream(): MuxStream {
    return this.mux.openStream();
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  get stats(): TunnelSessionStats {
    return {
      packetsIn: this.core.stats.packetsIn,
      packetsOut: this.core.stats.packetsOut,
      packetsDropped: this.dropped,
      pathSwitches: this.switches,
    };
  }

  /** KCP's smoothed round trip, ms (0 until the first acknowledgement), for metrics. */
  get srttMs(): number {
    return this.core.kcp.srtt;
  }

  /** KCP's own counters (retransmissions, window), for logs and benchmarks. */
  get kcpStats(): KcpConnection['stats'] {
    return this.core.kcp.stats;
  }

  /** Closes the session and frees its buffers. Emits 'close' once. */
  close(err?: BurrowError): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    this.pump.stop();
    this.idleTimer?.cancel();
    this.idleTimer = null;
    // Give queued bytes (a final FIN or RST) one chance to leave.
    if (err === undefined) this.core.flush(this.scheduler.now());
    this.mux.close(err);
    this.core.release();
    this.emit('close', err);
  }

  private deliverReceived(): void {
    while (this.mux.receiveBuffered < this.receiveBudget) {
      const chunk = this.core.recv();
      if (chunk === null) return;
      this.mux.receive(chunk);
      if (this.closedWith !== null) return;
    }
  }

  private onPumpTurn(): void {
    this.deliverReceived();
    if (this.closedWith !== null) return;
    if (this.core.dead) {
      this.close(new BurrowError('ERR_SESSION_DEAD', 'peer stopped acknowledging data: link is dead'));
      return;
    }
    if (this.muxBlocked && this.core.waitSnd() < this.maxWaitSnd) {
      this.muxBlocked = false;
      this.mux.notifyDrain();
    }
  }

  private armIdleTimer(): void {
    if (this.idleTimeoutMs <= 0) return;
    this.idleTimer = this.scheduler.at(this.lastAuthenticatedAt + this.idleTimeoutMs, () => {
      this.idleTimer = null;
      if (this.closedWith !== null) return;
      const silentFor = this.scheduler.now() - this.lastAuthenticatedAt;
      if (silentFor >= this.idleTimeoutMs) {
        this.close(
          new BurrowError('ERR_SESSION_DEAD', `no authenticated packet from the peer for ${Math.round(silentFor)} ms`),
        );
      } else {
        this.armIdleTimer();
      }
    });
  }
}

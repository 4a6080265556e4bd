import { EventEmitter } from 'node:events';
import { BurrowError } from '../errors.js';
import type { Role } from '../role.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import type { DatagramPath } from '../path/datagram-path.js';
import { isRecordPath, type RecordPath } from '../path/record-path.js';
import { MuxSession, type MuxOptions, type MuxStream } from '../mux/index.js';
import type { KcpOptions, KcpStats } from '../kcp/index.js';
import { SEALED_OVERHEAD, type SessionKeys } from '../crypto/index.js';
import { deriveRecordKeys } from '../crypto/record-keys.js';
import { RecordSealer } from '../crypto/record-sealer.js';
import { RecordOpener } from '../crypto/record-opener.js';
import { SecureKcp } from './secure-kcp.js';
import { KcpPump } from './kcp-pump.js';
import { ByteLedger, GAP, type ByteLedgerOptions } from './byte-ledger.js';
import { DATA_HEADER_LENGTH, FrameDecoder, encodeAck, encodeDataHeader, type ResumeFrame } from './resume-frame.js';

/** Where a session's packets can go: a datagram path (KCP) or a record path (the relay). */
export type SessionPath = DatagramPath | RecordPath;

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
   * Back-pressure on the direct path: no more of the byte stream is handed to
   * KCP while this many segments wait to be sent or acknowledged.
   */
  maxWaitSnd?: number;
  /**
   * The byte-offset layer: how much of what the mux wrote is kept until the
   * peer acknowledges it (the mux stops writing at `capacity`), and how often
   * this side acknowledges. Default 8 MiB, an ACK per MiB or 20 ms.
   */
  ledger?: ByteLedgerOptions;
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
  /** Authenticated datagrams and records received. */
  packetsIn: number;
  /** Datagrams and records sent. */
  packetsOut: number;
  /** Packets and records that failed authentication, were replayed, or were malformed. */
  packetsDropped: number;
  pathSwitches: number;
  /** KCP epochs started: a fresh KCP for each direct path after the relay carried the session. */
  kcpEpochs: number;
  /** Bytes of the stream sent and kept until the peer acknowledges them. */
  unacknowledgedBytes: number;
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
 * The relay went quiet this long after records were arriving: say once what
 * was delivered. A dead relay connection (a NAT that forgot it, a rendezvous
 * that died without a FIN reaching us) is only noticed when this side sends,
 * and a side that only receives would otherwise send nothing until the mux
 * keepalive, seconds later. Once per silence: an idle session stays asleep.
 */
const RELAY_SILENCE_PROBE_MS = 1000;

/** Most of the byte stream handed to KCP in one DATA frame. */
const KCP_DATA_CHUNK = 64 * 1024;
/** Most of the byte stream in one relay record: one AEAD and one frame per this many bytes. */
const RECORD_DATA_CHUNK = 128 * 1024;

/**
 * A multiplexed, encrypted session between two peers, riding on whichever
 * path is current: KCP datagrams on a direct path, sealed records on the
 * relay (which is TCP, so it needs no ARQ of its own).
 *
 * Above both sits the byte-offset ledger: what the mux writes is numbered,
 * kept until the peer says it has it, and after a change of transport sent
 * again from what the peer acknowledged; the receiver drops what it already
 * has. That makes a live move between relay and direct byte-exact whatever
 * either transport had in flight. Thin I/O around sans-I/O cores (SecureKcp,
 * ByteLedger, the record seal): a Scheduler drives KCP's timers and the ACK
 * deadline, one coalesced flush per event-loop turn.
 *
 * Events: 'stream' (MuxStream), 'path' (SessionPath, previous | null),
 * 'close' (BurrowError | undefined).
 */
export class TunnelSession extends EventEmitter {
  readonly mux: MuxSession;
  private readonly kcp: SecureKcp;
  private readonly ledger: ByteLedger;
  private readonly recordSealer: RecordSealer;
  private readonly recordOpener: RecordOpener;
  private readonly scheduler: Scheduler;
  /** Where new bytes go. */
  private path: SessionPath | null = null;
  /** Where KCP's datagrams go: the newest datagram path, current or not. */
  private datagramPath: DatagramPath | null = null;
  /** The session left KCP for the relay: the next direct path starts a fresh epoch. */
  private kcpStale = false;
  private kcpFrames = new FrameDecoder();
  /** The current record path said "enough" and has not drained yet. */
  private recordBlocked = false;
  /** Record paths paused because readers hold the receive budget. */
  private readonly pausedPaths = new Set<RecordPath>();
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
  private recordsIn = 0;
  private recordsOut = 0;
  /** When the last record with new data arrived, and whether the silence since has been probed. */
  private lastRecordAt = -Infinity;
  private silenceProbed = true;

  constructor(opts: TunnelSessionOptions) {
    super();
    this.scheduler = opts.scheduler ?? realScheduler;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    const kcp = { ...DEFAULT_KCP, ...opts.kcp };
    this.maxWaitSnd = opts.maxWaitSnd ?? 2 * (kcp.sndwnd ?? 1024);
    this.receiveBudget = opts.receiveBudget ?? 32 * 1024 * 1024;
    this.lastAuthenticatedAt = this.scheduler.now();
    this.kcp = new SecureKcp({
      keys: opts.keys,
      conv: opts.conv ?? 1,
      packetMtu: opts.packetMtu ?? 1400,
      kcp,
      onPacket: (sealed) => this.datagramPath?.send(sealed),
    });
    const recordKeys = deriveRecordKeys(opts.keys);
    this.recordSealer = new RecordSealer(recordKeys.sendKey, { aead: opts.keys.aead });
    this.recordOpener = new RecordOpener(recordKeys.recvKey, { aead: opts.keys.aead });
    this.ledger = new ByteLedger(opts.ledger);
    this.pump = new KcpPump(
      {
        update: (now) => this.kcp.kcp?.update(now),
        flush: (now) => this.flushOut(now),
        check: (now) => this.nextDeadline(now),
      },
      this.scheduler,
      () => this.onPumpTurn(),
    );
    this.mux = new MuxSession(
      {
        write: (bytes) => {
          if (this.closedWith !== null) return false;
          const ok = this.ledger.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          this.pump.kick();
          if (!ok) this.muxBlocked = true;
          return ok;
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
    // Readers caught up: take data from KCP (its window reopens) and the relay again.
    this.mux.on('receive-room', () => {
      for (const p of this.pausedPaths) p.resumeReading();
      this.pausedPaths.clear();
      this.pump.kick();
    });
    this.mux.on('close', (err?: BurrowError) => this.close(err));
    this.armIdleTimer();
  }

  /**
   * Where bytes go from now on. Incoming packets and records are accepted
   * from any path. A change between KCP and the relay sends everything the
   * peer has not acknowledged again on the new transport (the peer drops
   * what it already has); between two datagram paths KCP simply carries on,
   * and `previousDied` resends what it had in flight at once rather than
   * after its backed-off timers.
   */
  setPath(path: SessionPath, opts: { previousDied?: boolean } = {}): void {
    const previous = this.path;
    if (previous === path) return;
    this.path = path;
    if (previous !== null) this.switches++;
    this.emit('path', path, previous);
    const wasRecords = previous !== null && isRecordPath(previous);
    if (isRecordPath(path)) {
      this.recordBlocked = false;
      // What KCP had in flight may never arrive: a later direct path starts afresh.
      if (previous !== null && !wasRecords) this.kcpStale = true;
      this.ledger.rewind();
      this.askForAck();
    } else {
      this.datagramPath = path;
      this.kcp.setPacketMtu(path.mtu);
      const current = this.kcp.kcp;
      if (current === null || this.kcpStale || current.dead) {
        this.startEpoch();
        this.ledger.rewind();
        this.askForAck();
      } else if (previous === null || wasRecords) {
        this.ledger.rewind();
        this.askForAck();
      } else if (opts.previousDied) {
        current.expediteRetransmit(this.scheduler.now());
      }
    }
    this.pump.kick();
  }

  get currentPath(): SessionPath | null {
    return this.path;
  }

  /**
   * Hand this to every datagram path as its receiver. Returns true when the
   * packet was authentic (a direct path's liveness counts only those).
   */
  readonly receive = (packet: Buffer, _path?: DatagramPath): boolean => {
    if (this.closedWith !== null) return false;
    const now = this.scheduler.now();
    const receipt = this.kcp.receive(packet, now);
    if (receipt === 'rejected') {
      this.dropped++;
      return false;
    }
    if (receipt === 'new-epoch') {
      // The peer started a fresh KCP; ours went with what it had in flight.
      this.kcpFrames = new FrameDecoder();
      this.kcpStale = false;
      if (this.path !== null && !isRecordPath(this.path)) this.ledger.rewind();
      this.askForAck();
    }
    this.lastAuthenticatedAt = now;
    this.pump.kick();
    return true;
  };

  /** Hand this to every record path as its receiver. */
  readonly receiveRecord = (record: Buffer, path: RecordPath): void => {
    if (this.closedWith !== null) return;
    const plain = this.recordOpener.open(record);
    if (plain === null) {
      // The relay altered, dropped or replayed a record: what it carried is
      // lost on this path, so the path is useless. The session goes on if
      // another path carries it.
      this.dropped++;
      path.close();
      return;
    }
    this.recordsIn++;
    const now = this.scheduler.now();
    this.lastAuthenticatedAt = now;
    // A record holds whole frames: anything left over is a broken peer.
    const frames = new FrameDecoder();
    frames.push(plain);
    const deliveredBefore = this.ledger.delivered;
    if (!this.applyFrames(frames, now)) return;
    // Only the peer's data arms the silence probe: its ACKs (our own probe's
    // answer among them) never do, so two quiet peers do not ping-pong.
    if (this.ledger.delivered > deliveredBefore) {
      this.lastRecordAt = now;
      this.silenceProbed = false;
    }
    if (frames.pendingBytes > 0) {
      this.protocolError('a relay record ended inside a frame');
      return;
    }
    if (this.mux.receiveBuffered >= this.receiveBudget && !this.pausedPaths.has(path)) {
      path.pauseReading();
      this.pausedPaths.add(path);
    }
    this.pump.kick();
  };

  openStream(): MuxStream {
    return this.mux.openStream();
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  get stats(): TunnelSessionStats {
    return {
      packetsIn: this.kcp.stats.packetsIn + this.recordsIn,
      packetsOut: this.kcp.stats.packetsOut + this.recordsOut,
      packetsDropped: this.dropped,
      pathSwitches: this.switches,
      kcpEpochs: this.kcp.stats.epochs,
      unacknowledgedBytes: this.ledger.retained,
    };
  }

  /**
   * KCP's smoothed round trip on the direct path, ms; 0 while the relay
   * carries the session (TCP has no ARQ of ours to measure it) or before the
   * first acknowledgement. For metrics.
   */
  get srttMs(): number {
    const path = this.path;
    if (path === null || isRecordPath(path)) return 0;
    return this.kcp.kcp?.srtt ?? 0;
  }

  /** KCP's own counters over every epoch (retransmissions, windows), for logs and benchmarks. */
  get kcpStats(): KcpStats {
    return this.kcp.kcpStats();
  }

  /** Closes the session and frees its buffers. Emits 'close' once. */
  close(err?: BurrowError): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    this.pump.stop();
    this.idleTimer?.cancel();
    this.idleTimer = null;
    // Give queued bytes (a final FIN or RST) one chance to leave.
    if (err === undefined) {
      const now = this.scheduler.now();
      this.flushOut(now);
    }
    this.mux.close(err);
    this.kcp.release();
    this.ledger.release();
    this.pausedPaths.clear();
    this.emit('close', err);
  }

  /**
   * The transport changed: tell the peer at once what arrived, so its rewind
   * resends only what is missing. Nothing to say before anything arrived.
   */
  private askForAck(): void {
    if (this.ledger.delivered > 0) this.ledger.ackNow();
  }

  private startEpoch(): void {
    this.kcp.newEpoch();
    this.kcpFrames = new FrameDecoder();
    this.kcpStale = false;
  }

  /** Applies decoded frames; false when the session closed on a broken one. */
  private applyFrames(frames: FrameDecoder, now: number): boolean {
    for (let f: ResumeFrame | null = frames.next(); f !== null; f = frames.next()) {
      if (f.type === 'error') {
        this.protocolError(`the peer's byte stream is corrupt (${f.reason})`);
        return false;
      }
      if (f.type === 'ack') {
        if (!this.ledger.onAck(f.offset)) {
          this.protocolError(`the peer acknowledged offset ${f.offset}, beyond the ${this.ledger.written} bytes sent`);
          return false;
        }
        continue;
      }
      const fresh = this.ledger.onData(f.offset, f.bytes, now);
      if (fresh === GAP) {
        this.protocolError(`the peer sent offset ${f.offset} with only ${this.ledger.delivered} bytes delivered`);
        return false;
      }
      if (fresh !== null) {
        this.mux.receive(fresh);
        if (this.closedWith !== null) return false;
      }
    }
    return true;
  }

  private protocolError(message: string): void {
    this.close(new BurrowError('ERR_SESSION_PROTOCOL', message));
  }

  /** Everything due leaves on the current path: ACKs, then as much of the byte stream as it takes. */
  private flushOut(now: number): void {
    const path = this.path;
    if (path !== null) {
      if (isRecordPath(path)) {
        if (!this.silenceProbed && now >= this.lastRecordAt + RELAY_SILENCE_PROBE_MS) {
          this.silenceProbed = true;
          this.ledger.ackNow();
        }
        this.sendRecords(path, now);
      } else {
        this.sendOnKcp(now);
      }
    }
    // KCP's own ACKs leave even while the relay carries the byte stream.
    this.kcp.kcp?.flush(now);
  }

  private sendOnKcp(now: number): void {
    const kcp = this.kcp.kcp;
    if (kcp === null || kcp.dead) return;
    const ack = this.ledger.pollAck(now);
    if (ack !== null) kcp.send(encodeAck(ack));
    while (this.ledger.unsent > 0 && kcp.waitSnd() < this.maxWaitSnd) {
      const data = this.ledger.pollData(KCP_DATA_CHUNK);
      if (data === null) break;
      // Stream mode: the header and the bytes share segments; send() copies.
      kcp.send(encodeDataHeader(data.offset, data.bytes.length));
      kcp.send(data.bytes);
    }
  }

  private sendRecords(path: RecordPath, now: number): void {
    let ack = this.ledger.pollAck(now);
    const room = Math.min(RECORD_DATA_CHUNK, path.maxRecord - SEALED_OVERHEAD - DATA_HEADER_LENGTH - ACK_FRAME_LENGTH);
    for (;;) {
      const data = !this.recordBlocked && this.ledger.unsent > 0 ? this.ledger.pollData(room) : null;
      if (data === null && ack === null) return;
      const parts: Buffer[] = [];
      if (ack !== null) parts.push(encodeAck(ack));
      if (data !== null) parts.push(encodeDataHeader(data.offset, data.bytes.length), data.bytes);
      ack = null;
      this.recordsOut++;
      // An ACK-only record is sent even over the mark: it is tiny and it is
      // what lets the peer free what it keeps.
      if (!path.send(this.recordSealer.seal(parts.length === 1 ? at0(parts) : Buffer.concat(parts))) && !this.recordBlocked) {
        this.recordBlocked = true;
        path.onDrain(() => {
          if (this.path !== path) return;
          this.recordBlocked = false;
          this.pump.kick();
        });
      }
      if (data === null) return;
    }
  }

  private nextDeadline(now: number): number {
    let due = this.kcp.kcp?.check(now) ?? Infinity;
    // An ACK waits for a path to carry it; unsent bytes wait for room (KCP's
    // ACKs and the relay's drain kick the pump when there is).
    if (this.path !== null) due = Math.min(due, this.ledger.nextDeadline());
    if (this.path !== null && isRecordPath(this.path) && !this.silenceProbed) due = Math.min(due, this.lastRecordAt + RELAY_SILENCE_PROBE_MS);
    return due;
  }

  private deliverReceived(now: number): void {
    const kcp = this.kcp.kcp;
    if (kcp === null) return;
    while (this.mux.receiveBuffered < this.receiveBudget) {
      const chunk = kcp.recv();
      if (chunk === null) return;
      this.kcpFrames.push(chunk);
      if (!this.applyFrames(this.kcpFrames, now)) return;
    }
  }

  private onPumpTurn(): void {
    const now = this.scheduler.now();
    this.deliverReceived(now);
    if (this.closedWith !== null) return;
    const kcp = this.kcp.kcp;
    if (kcp !== null && kcp.dead && this.path !== null && !isRecordPath(this.path)) {
      this.close(new BurrowError('ERR_SESSION_DEAD', 'peer stopped acknowledging data: link is dead'));
      return;
    }
    if (this.muxBlocked && this.ledger.writable) {
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

/** An ACK frame's size: type, length, offset. */
const ACK_FRAME_LENGTH = 12;

function at0(parts: Buffer[]): Buffer {
  const [first] = parts;
  if (first === undefined) throw new BurrowError('ERR_INTERNAL', 'empty record');
  return first;
}

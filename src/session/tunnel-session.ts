import { EventEmitter } from 'node:events';
import { BurrowError } from '../errors.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import type { DatagramPath } from '../path/datagram-path.js';
import { isRecordPath, type RecordPath } from '../path/record-path.js';
import { MuxSession, type MuxStream } from '../mux/index.js';
import type { KcpStats } from '../kcp/index.js';
import { SecureKcp } from './secure-kcp.js';
import { KcpPump } from './kcp-pump.js';
import { ByteLedger, GAP } from './byte-ledger.js';
import { FrameDecoder, encodeAck, encodeDataHeader, type ResumeFrame } from './resume-frame.js';
import { RecordCarrier } from './record-carrier.js';
import { DatagramChannel, type DatagramSendResult } from './datagram-channel.js';
import { PacketKind } from '../wire/packet-kind.js';
import { DEFAULT_KCP, DEFAULT_STREAM_WINDOW, type TunnelSessionOptions, type TunnelSessionStats } from './session-options.js';

export type { TunnelSessionOptions, TunnelSessionStats } from './session-options.js';
export type { DatagramSendResult } from './datagram-channel.js';

/** Where a session's packets can go: a datagram path (KCP) or a record path (the relay). */
export type SessionPath = DatagramPath | RecordPath;


/** Most of the byte stream handed to KCP in one DATA frame. */
const KCP_DATA_CHUNK = 64 * 1024;

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
 * Beside the streams, unreliable datagrams (a UDP service's): sealed
 * packets of their own on a direct path, records on the relay; never
 * retransmitted, never split (DatagramChannel).
 *
 * Events: 'stream' (MuxStream), 'datagram' (Buffer), 'path' (SessionPath,
 * previous | null), 'close' (BurrowError | undefined).
 */
export class TunnelSession extends EventEmitter {
  readonly mux: MuxSession;
  private readonly kcp: SecureKcp;
  private readonly ledger: ByteLedger;
  private readonly records: RecordCarrier;
  private readonly datagrams: DatagramChannel;
  private readonly scheduler: Scheduler;
  /** Where new bytes go. */
  private path: SessionPath | null = null;
  /** Where KCP's datagrams go: the newest datagram path, current or not. */
  private datagramPath: DatagramPath | null = null;
  /** The session left KCP for the relay: the next direct path starts a fresh epoch. */
  private kcpStale = false;
  private kcpFrames = new FrameDecoder();
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
    this.kcp = new SecureKcp({
      keys: opts.keys,
      conv: opts.conv ?? 1,
      packetMtu: opts.packetMtu ?? 1400,
      kcp,
      onPacket: (sealed) => this.datagramPath?.send(sealed),
    });
    this.records = new RecordCarrier(opts.keys, () => this.pump.kick());
    this.datagrams = new DatagramChannel(opts.keys);
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
      this.records.resumeAll();
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
    if (packet[0] === PacketKind.Datagram) return this.receiveDatagram(packet, now);
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
    const plain = this.records.open(record);
    if (plain === null) {
      // The relay altered, dropped or replayed a record: what it carried is
      // lost on this path, so the path is useless. The session goes on if
      // another path carries it.
      this.dropped++;
      path.close();
      return;
    }
    const now = this.scheduler.now();
    this.lastAuthenticatedAt = now;
    // A record holds whole frames: anything left over is a broken peer.
    const frames = new FrameDecoder();
    frames.push(plain);
    const deliveredBefore = this.ledger.delivered;
    if (!this.applyFrames(frames, now, true)) return;
    // Only the peer's data arms the silence probe: its ACKs (our own probe's
    // answer among them) never do, so two quiet peers do not ping-pong.
    if (this.ledger.delivered > deliveredBefore) this.records.dataArrived(now);
    if (frames.pendingBytes > 0) {
      this.protocolError('a relay record ended inside a frame');
      return;
    }
    if (this.mux.receiveBuffered >= this.receiveBudget) this.records.pause(path);
    this.pump.kick();
  };

  /**
   * Sends one datagram beside the streams on the current path: whole or not
   * at all, unordered on a direct path, never retransmitted. Nothing waits:
   * what cannot go now is dropped, and the result says why.
   */
  sendDatagram(payload: Uint8Array): DatagramSendResult {
    if (this.closedWith !== null) return 'closed';
    const path = this.path;
    if (path === null) return 'no-path';
    if (payload.byteLength > this.datagramLimit) return 'too-big';
    if (isRecordPath(path)) {
      if (!this.records.sendDatagram(path, payload)) return 'congested';
      this.datagrams.stats.datagramsOut++;
      return 'sent';
    }
    path.send(this.datagrams.seal(payload));
    return 'sent';
  }

  /** Largest payload sendDatagram takes on the current path (0 while there is none). */
  get datagramLimit(): number {
    const path = this.path;
    if (path === null) return 0;
    return isRecordPath(path) ? this.records.datagramLimit(path) : DatagramChannel.limitFor(path.mtu);
  }

  openStream(): MuxStream {
    return this.mux.openStream();
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  get stats(): TunnelSessionStats {
    return {
      packetsIn: this.kcp.stats.packetsIn + this.records.recordsIn,
      packetsOut: this.kcp.stats.packetsOut + this.records.recordsOut,
      packetsDropped: this.dropped,
      pathSwitches: this.switches,
      kcpEpochs: this.kcp.stats.epochs,
      unacknowledgedBytes: this.ledger.retained,
      ...this.datagrams.stats,
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
    this.records.release();
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

  /** A direct path's datagram packet: true when authentic (the path's liveness counts it). */
  private receiveDatagram(packet: Buffer, now: number): boolean {
    const payload = this.datagrams.open(packet);
    if (payload === null) return false;
    this.lastAuthenticatedAt = now;
    this.emit('datagram', payload);
    return true;
  }

  /**
   * Applies decoded frames; false when the session closed on a broken one.
   * DATAGRAM frames come only in records: KCP's byte stream never carries one.
   */
  private applyFrames(frames: FrameDecoder, now: number, inRecord: boolean): boolean {
    for (let f: ResumeFrame | null = frames.next(); f !== null; f = frames.next()) {
      if (f.type === 'error') {
        this.protocolError(`the peer's byte stream is corrupt (${f.reason})`);
        return false;
      }
      if (f.type === 'datagram') {
        if (!inRecord) {
          this.protocolError('a datagram frame inside the KCP byte stream');
          return false;
        }
        this.datagrams.stats.datagramsIn++;
        this.emit('datagram', f.bytes);
        if (this.closedWith !== null) return false;
        continue;
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
        this.records.flush(path, this.ledger, now);
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

  private nextDeadline(now: number): number {
    let due = this.kcp.kcp?.check(now) ?? Infinity;
    // An ACK waits for a path to carry it; unsent bytes wait for room (KCP's
    // ACKs and the relay's drain kick the pump when there is).
    if (this.path !== null) due = Math.min(due, this.ledger.nextDeadline());
    if (this.path !== null && isRecordPath(this.path)) due = Math.min(due, this.records.probeDeadline());
    return due;
  }

  private deliverReceived(now: number): void {
    const kcp = this.kcp.kcp;
    if (kcp === null) return;
    while (this.mux.receiveBuffered < this.receiveBudget) {
      const chunk = kcp.recv();
      if (chunk === null) return;
      this.kcpFrames.push(chunk);
      if (!this.applyFrames(this.kcpFrames, now, false)) return;
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

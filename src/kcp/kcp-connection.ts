/**
 * The KCP ARQ, sans I/O: wire-compatible with ikcp and kcp-go.
 *
 * The connection never flushes on its own. The driver batches send()/input()
 * calls, then calls flush(now) (normally in the same event-loop turn), and
 * arms one timer for check(now), calling update(now) when it fires. flush is
 * cheap when nothing is due: it emits pending ACKs and window-allowed new
 * data at once, and scans the in-flight segments only when a retransmission
 * or fast resend is due.
 *
 * Buffer ownership: send() copies its argument. input() does NOT copy: the
 * payloads of received segments stay views of the datagram and recv() may
 * return such a view, so the caller must hand input() a buffer it will not
 * reuse or modify. output() gets a view of one reused buffer, valid only
 * during the call.
 */
import { BurrowError } from '../errors.js';
import { CongestionWindow } from './congestion.js';
import { Fifo } from '../util/fifo.js';
import { readU16LE, readU32LE, u8 } from '../util/bytes.js';
import { type KcpMode } from './modes.js';
import {
  KCP_RTO_MAX,
  checkMtu,
  checkWindow,
  resolveKcpOptions,
  tuningForMode,
  type KcpOptions,
  type KcpTuning,
} from './options.js';
import { FragmentQueue, FragmentWindow } from './receive-buffers.js';
import { RtoEstimator } from './rto.js';
import {
  KCP_CMD_ACK,
  KCP_CMD_PUSH,
  KCP_CMD_WASK,
  KCP_CMD_WINS,
  KCP_OVERHEAD,
  writeHeader,
} from './segment.js';
import { SendSegment, SendWindow } from './send-window.js';
import { diff32 } from './seq.js';
import { createKcpStats, type KcpStats } from './stats.js';

/** Pending probe flags: send a WASK / a WINS in the next flush. */
const ASK_SEND = 1;
const ASK_TELL = 2;
const PROBE_INIT = 7000;
const PROBE_LIMIT = 120000;
/** check() deadline when nothing is pending: an idle connection wakes nobody. */
export const KCP_IDLE_CHECK = 60000;
/** A message needs fewer fragments than this: frg is a u8 counting down. */
export const KCP_MAX_FRAGMENTS = 255;

const SEGMENT_POOL_MAX = 4096;
const EMPTY = Buffer.alloc(0);

const INPUT_OK = 0;
const INPUT_MALFORMED = 1;
const INPUT_WRONG_CONV = 2;

/** Internal counters for tests, logs and debugging; a copy, never live. */
export interface KcpStateSnapshot {
  sndUna: number;
  sndNxt: number;
  rcvNxt: number;
  sndQueue: number;
  sndBuf: number;
  rcvBuf: number;
  rcvQueue: number;
  pendingAcks: number;
  rmtWnd: number;
  cwnd: number;
  ssthresh: number;
  srtt: number;
  rttvar: number;
  rto: number;
  probe: number;
  probeWait: number;
  dead: boolean;
}

export class KcpConnection {
  readonly stats: KcpStats = createKcpStats();

  private readonly conv: number;
  private readonly output: (datagram: Uint8Array) => void;
  private readonly stream: boolean;
  private readonly deadLink: number;
  private readonly fastLimit: number;
  /** New segments per flush at most; 0 = no cap. */
  private readonly maxBurst: number;

  private mtu: number;
  private mss: number;
  private obuf: Buffer;
  private optr = 0;

  private sndWnd: number;
  private rcvWnd: number;
  private rmtWnd = 128;
  private nodelay = false;
  private interval = 100;
  private fastResend = 0;
  private noCwnd = false;
  private minRto = 100;

  private sndUna: number;
  private sndNxt: number;
  private rcvNxt: number;

  private readonly rtt = new RtoEstimator();
  private readonly cc: CongestionWindow;

  private probe = 0;
  private probeWait = 0;
  private tsProbe = 0;

  private readonly sndQueue = new Fifo<SendSegment>();
  /** Acknowledged segment objects kept for reuse: fewer allocations, less GC at high rates. */
  private readonly segPool: SendSegment[] = [];
  private readonly sndBuf: SendWindow;
  /** Lower bound of the in-flight segments' resend times (exact after a scan). */
  private earliestResend = 0;
  /** Some in-flight segment reached the fast-resend threshold. */
  private fastPending = false;

  private readonly rcvBuf: FragmentWindow;
  private readonly rcvQueue: FragmentQueue;

  private ackSn: number[] = [];
  private ackTs: number[] = [];
  private ackCount = 0;

  private isDead = false;
  private released = false;

  constructor(opts: KcpOptions) {
    const o = resolveKcpOptions(opts);
    this.conv = o.conv;
    this.output = opts.output;
    this.stream = o.stream;
    this.deadLink = o.deadLink;
    this.fastLimit = o.fastLimit;
    this.maxBurst = o.maxBurst;
    this.mtu = o.mtu;
    this.mss = o.mtu - KCP_OVERHEAD;
    this.obuf = Buffer.alloc(o.mtu);
    this.sndWnd = o.sndWnd;
    this.rcvWnd = o.rcvWnd;
    this.applyTuning(o);
    this.sndUna = o.initialSn;
    this.sndNxt = o.initialSn;
    this.rcvNxt = o.initialSn;
    this.cc = new CongestionWindow(this.mss);
    this.sndBuf = new SendWindow(o.sndWnd);
    this.rcvBuf = new FragmentWindow(o.rcvWnd);
    this.rcvQueue = new FragmentQueue(o.rcvWnd);
  }

  get dead(): boolean {
    return this.isDead;
  }

  /** Current retransmission timeout estimate (ms). */
  get rto(): number {
    return this.rtt.rto;
  }

  /** Smoothed RTT (ms); 0 before the first sample. */
  get srtt(): number {
    return this.rtt.srtt;
  }

  // ---------------------------------------------------------------- sending

  /**
   * Queues `data` (copied). Message mode: one message, fragmented to the MSS;
   * throws ERR_KCP_MESSAGE_TOO_LARGE beyond min(255, rcvwnd) fragments. Stream
   * mode: bytes appended to the stream; empty data is a no-op. Throws
   * ERR_KCP_DEAD_LINK once the link is dead. Nothing is sent until flush().
   */
  send(data: Uint8Array): void {
    if (this.released) throw new BurrowError('ERR_KCP_RELEASED', 'KCP connection was released');
    if (this.isDead) throw new BurrowError('ERR_KCP_DEAD_LINK', 'KCP link is dead');
    const len = data.length;
    if (this.stream) {
      if (len > 0) this.sendStream(data);
      return;
    }
    const mss = this.mss;
    const count = len <= mss ? 1 : Math.ceil(len / mss);
    if (count > KCP_MAX_FRAGMENTS || count > this.rcvWnd) {
      throw new BurrowError(
        'ERR_KCP_MESSAGE_TOO_LARGE',
        `KCP message of ${len} bytes needs ${count} fragments; the limit is ${Math.min(KCP_MAX_FRAGMENTS, this.rcvWnd)}`,
      );
    }
    // One copy for the whole message; fragments are views of it.
    const copy = Buffer.allocUnsafe(len);
    copy.set(data);
    for (let i = 0; i < count; i++) {
      const start = i * mss;
      const size = Math.min(mss, len - start);
      this.sndQueue.push(this.newSegment(copy.subarray(start, start + size), size, count - i - 1));
    }
    this.stats.bytesSent += len;
  }

  private sendStream(data: Uint8Array): void {
    const mss = this.mss;
    const len = data.length;
    let off = 0;
    // Fill the spare room of the last queued (never sent) segment first.
    const last = this.sndQueue.peekLast();
    if (last !== undefined) {
      const room = Math.min(last.data.length, mss) - last.len;
      if (room > 0) {
        const n = Math.min(room, len);
        last.data.set(n === len ? data : data.subarray(0, n), last.len);
        last.len += n;
        off = n;
      }
    }
    const rest = len - off;
    const full = Math.floor(rest / mss);
    if (full > 0) {
      const bulk = Buffer.allocUnsafe(full * mss);
      bulk.set(data.subarray(off, off + full * mss));
      for (let i = 0; i < full; i++) {
        this.sndQueue.push(this.newSegment(bulk.subarray(i * mss, (i + 1) * mss), mss, 0));
      }
      off += full * mss;
    }
    if (off < len) {
      // The tail gets a full-MSS buffer so later sends can append to it.
      const tail = Buffer.allocUnsafe(mss);
      tail.set(off === 0 ? data : data.subarray(off));
      this.sndQueue.push(this.newSegment(tail, len - off, 0));
    }
    this.stats.bytesSent += len;
  }

  private newSegment(data: Buffer, len: number, frg: number): SendSegment {
    const seg = this.segPool.pop();
    if (seg === undefined) return new SendSegment(data, len, frg);
    seg.data = data;
    seg.len = len;
    seg.frg = frg;
    seg.fastack = 0;
    seg.xmit = 0;
    return seg;
  }

  private recycle(seg: SendSegment): void {
    if (this.segPool.length < SEGMENT_POOL_MAX) {
      seg.data = EMPTY;
      this.segPool.push(seg);
    }
  }

  /** Segments queued or in flight (not yet acknowledged). */
  waitSnd(): number {
    return this.sndQueue.length + this.sndBuf.count;
  }

  // -------------------------------------------------------------- receiving

  /**
   * Message mode: the next whole message. Stream mode: every byte queued in
   * order. null when nothing is ready. The result may be a view of a datagram
   * given to input(). If the read reopens a window the peer saw as zero, a
   * window update is pending: check() returns now, so flush soon.
   */
  recv(): Buffer | null {
    const q = this.rcvQueue;
    if (q.length === 0 || this.released) return null;
    if (!this.stream && q.complete === 0) return null;
    const recover = q.length >= this.rcvWnd;
    let out: Buffer;
    if (this.stream) {
      out = q.length === 1 ? q.shift() : this.concat(q.length, q.bytes);
    } else {
      let n = 1;
      let bytes = q.dataAt(0).length;
      while (q.frgAt(n - 1) !== 0) {
        bytes += q.dataAt(n).length;
        n++;
      }
      out = n === 1 ? q.shift() : this.concat(n, bytes);
    }
    this.rcvNxt = this.rcvBuf.drainInOrder(this.rcvNxt, q, this.rcvWnd);
    // The peer saw a zero window; tell it at once that we have room again.
    if (recover && q.length < this.rcvWnd) this.probe |= ASK_TELL;
    this.stats.bytesReceived += out.length;
    return out;
  }

  private concat(n: number, bytes: number): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const d = this.rcvQueue.shift();
      out.set(d, o);
      o += d.length;
    }
    return out;
  }

  /** Size of the next recv() result, -1 if there is none. */
  peekSize(): number {
    const q = this.rcvQueue;
    if (q.length === 0 || this.released) return -1;
    if (this.stream) return q.bytes;
    if (q.complete === 0) return -1;
    let i = 0;
    let bytes = q.dataAt(0).length;
    while (q.frgAt(i) !== 0) bytes += q.dataAt(++i).length;
    return bytes;
  }

  // ------------------------------------------------------------------ input

  /**
   * Feeds one received datagram (one or more segments). Payloads are kept as
   * views of `datagram`, so the caller must not reuse or modify it. Returns
   * false, counting stats.malformed or stats.wrongConv, when any segment is
   * refused; then nothing of the datagram is applied. Never throws. Sends
   * nothing itself: flush() afterwards emits the ACKs.
   */
  input(datagram: Uint8Array, now: number): boolean {
    if (this.released) return false;
    this.stats.datagramsIn++;
    const verdict = this.validate(datagram);
    if (verdict !== INPUT_OK) {
      if (verdict === INPUT_WRONG_CONV) this.stats.wrongConv++;
      else this.stats.malformed++;
      return false;
    }
    const current = now >>> 0;
    const b = datagram;
    const n = b.length;
    const stats = this.stats;
    const prevUna = this.sndUna;
    let view: Buffer | null = null;
    let hasAck = false;
    let maxAck = 0;
    let latestTs = 0;
    let o = 0;
    while (o < n) {
      const cmd = u8(b, o + 4);
      const frg = u8(b, o + 5);
      const wnd = readU16LE(b, o + 6);
      const ts = readU32LE(b, o + 8);
      const sn = readU32LE(b, o + 12);
      const una = readU32LE(b, o + 16);
      const len = readU32LE(b, o + 20);
      this.rmtWnd = wnd;
      if (cmd === KCP_CMD_ACK) {
        stats.acksReceived++;
        // Sample the RTT only for a segment still in flight, so duplicated
        // or late ACKs do not skew it; do it before una removes the segment.
        const acked = diff32(sn, this.sndUna) >= 0 ? this.sndBuf.get(sn) : null;
        if (acked !== null) {
          const rtt = diff32(current, ts);
          if (rtt >= 0) this.rtt.sample(rtt, this.interval, this.minRto);
          this.ackOne(sn, acked);
        }
        if (!hasAck || diff32(sn, maxAck) > 0) {
          hasAck = true;
          maxAck = sn;
          latestTs = ts;
        }
      }
      if (diff32(una, this.sndUna) > 0) this.ackBelow(una);
      if (cmd === KCP_CMD_PUSH) {
        if (diff32(sn, (this.rcvNxt + this.rcvWnd) >>> 0) < 0) {
          this.queueAck(sn, ts);
          if (diff32(sn, this.rcvNxt) >= 0) {
            if (view === null) view = asBuffer(b);
            if (this.rcvBuf.put(sn, view.subarray(o + KCP_OVERHEAD, o + KCP_OVERHEAD + len), frg)) {
              stats.segmentsReceived++;
            } else {
              stats.duplicates++;
            }
          } else {
            stats.duplicates++;
          }
        } else {
          stats.outOfWindow++;
        }
      } else if (cmd === KCP_CMD_WASK) {
        this.probe |= ASK_TELL;
      }
      o += KCP_OVERHEAD + len;
    }
    if (this.rcvBuf.count > 0) {
      this.rcvNxt = this.rcvBuf.drainInOrder(this.rcvNxt, this.rcvQueue, this.rcvWnd);
    }
    if (hasAck && this.fastResend > 0) this.countFastAcks(maxAck, latestTs);
    if (diff32(this.sndUna, prevUna) > 0) this.cc.onProgress(this.rmtWnd, this.mss);
    if (this.rmtWnd === 0) {
      if (this.probeWait === 0) {
        this.probeWait = PROBE_INIT;
        this.tsProbe = (current + PROBE_INIT) >>> 0;
      }
    } else {
      this.probeWait = 0;
      this.tsProbe = 0;
    }
    return true;
  }

  /**
   * Checks a whole datagram before any of it is applied, so a refused one
   * changes nothing. Beyond framing, refuses what no honest peer sends: an
   * ACK for, or a una beyond, a sequence number never sent; a payload or frg
   * on a control segment; a message too long for our receive window.
   */
  private validate(b: Uint8Array): number {
    const n = b.length;
    if (n < KCP_OVERHEAD) return INPUT_MALFORMED;
    let o = 0;
    while (o < n) {
      if (n - o < KCP_OVERHEAD) return INPUT_MALFORMED;
      if (readU32LE(b, o) !== this.conv) return INPUT_WRONG_CONV;
      const cmd = u8(b, o + 4);
      const frg = u8(b, o + 5);
      const len = readU32LE(b, o + 20);
      if (len > n - o - KCP_OVERHEAD) return INPUT_MALFORMED;
      if (diff32(readU32LE(b, o + 16), this.sndNxt) > 0) return INPUT_MALFORMED;
      if (cmd === KCP_CMD_PUSH) {
        if (!this.stream && frg >= this.rcvWnd) return INPUT_MALFORMED;
      } else if (cmd === KCP_CMD_ACK || cmd === KCP_CMD_WASK || cmd === KCP_CMD_WINS) {
        if (frg !== 0 || len !== 0) return INPUT_MALFORMED;
        if (cmd === KCP_CMD_ACK && diff32(readU32LE(b, o + 12), this.sndNxt) >= 0) return INPUT_MALFORMED;
      } else {
        return INPUT_MALFORMED;
      }
      o += KCP_OVERHEAD + len;
    }
    return INPUT_OK;
  }

  /** Removes one acknowledged in-flight segment (the caller found it in sndBuf). */
  private ackOne(sn: number, seg: SendSegment): void {
    const buf = this.sndBuf;
    this.recycle(seg);
    buf.slots[sn & buf.mask] = null;
    buf.count--;
    if (sn === this.sndUna) this.advanceUna();
  }

  /** Removes every in-flight segment below `una` (cumulative ACK). */
  private ackBelow(una: number): void {
    const buf = this.sndBuf;
    const slots = buf.slots;
    const mask = buf.mask;
    for (let sn = this.sndUna; sn !== una; sn = (sn + 1) >>> 0) {
      const j = sn & mask;
      const seg = slots[j];
      if (seg != null) {
        this.recycle(seg);
        slots[j] = null;
        buf.count--;
      }
    }
    this.sndUna = una;
    this.advanceUna();
  }

  private advanceUna(): void {
    const buf = this.sndBuf;
    if (buf.count === 0) {
      this.sndUna = this.sndNxt;
      return;
    }
    const slots = buf.slots;
    const mask = buf.mask;
    let sn = this.sndUna;
    while (sn !== this.sndNxt && slots[sn & mask] === null) sn = (sn + 1) >>> 0;
    this.sndUna = sn;
  }

  /**
   * Every in-flight segment below the highest ACKed sn, sent no later than
   * that ACKed segment, has been overtaken once more.
   */
  private countFastAcks(maxAck: number, ts: number): void {
    const buf = this.sndBuf;
    const slots = buf.slots;
    const mask = buf.mask;
    const resend = this.fastResend;
    const limit = this.fastLimit;
    for (let sn = this.sndUna; diff32(sn, maxAck) < 0; sn = (sn + 1) >>> 0) {
      const seg = slots[sn & mask];
      if (seg == null || diff32(ts, seg.ts) < 0) continue;
      if (++seg.fastack >= resend && (limit === 0 || seg.xmit <= limit)) this.fastPending = true;
    }
  }

  private queueAck(sn: number, ts: number): void {
    const i = this.ackCount++;
    if (i < this.ackSn.length) {
      this.ackSn[i] = sn;
      this.ackTs[i] = ts;
    } else {
      this.ackSn.push(sn);
      this.ackTs.push(ts);
    }
  }

  // ----------------------------------------------------------------- timers

  /** Drives timers; call it at the time check() returned. */
  update(now: number): void {
    this.flush(now);
  }

  /**
   * Absolute time (same clock as `now`) of the next update(): `now` when
   * ACKs, a window tell/probe, a fast resend or window-allowed new data are
   * pending; else the earliest retransmission or probe deadline; else
   * now + KCP_IDLE_CHECK.
   */
  check(now: number): number {
    if (this.released || this.isDead) return now + KCP_IDLE_CHECK;
    if (this.ackCount > 0 || this.probe !== 0 || this.fastPending) return now;
    const current = now >>> 0;
    let next = 0;
    let has = false;
    if (this.sndQueue.length > 0) {
      if (diff32(this.sndNxt, (this.sndUna + this.effectiveWindow()) >>> 0) < 0) return now;
      if (this.rmtWnd === 0 && this.probeWait !== 0) {
        next = this.tsProbe;
        has = true;
      }
    }
    if (this.sndBuf.count > 0 && (!has || diff32(this.earliestResend, next) < 0)) {
      next = this.earliestResend;
      has = true;
    }
    if (!has) return now + KCP_IDLE_CHECK;
    const wait = diff32(next, current);
    return wait <= 0 ? now : now + wait;
  }

  private effectiveWindow(): number {
    const w = this.sndWnd < this.rmtWnd ? this.sndWnd : this.rmtWnd;
    return this.noCwnd || this.cc.cwnd > w ? w : this.cc.cwnd;
  }

  private wndUnused(): number {
    const used = this.rcvQueue.length;
    return used < this.rcvWnd ? this.rcvWnd - used : 0;
  }

  // ------------------------------------------------------------------ flush

  /** Emits pending ACKs, probes, window-allowed new data and due retransmissions. */
  flush(now: number): void {
    if (this.released) return;
    const current = now >>> 0;
    const wnd = this.wndUnused();
    const una = this.rcvNxt;
    const conv = this.conv;
    const ob = this.obuf;

    const acks = this.ackCount;
    if (acks > 0) {
      const ackTs = this.ackTs;
      const ackSn = this.ackSn;
      for (let i = 0; i < acks; i++) {
        const ts = ackTs[i];
        const sn = ackSn[i];
        // ackCount never exceeds the arrays' length (queueAck).
        if (ts === undefined || sn === undefined) throw new BurrowError('ERR_INTERNAL', `no pending ACK ${i}`);
        if (this.optr + KCP_OVERHEAD > this.mtu) this.emit();
        writeHeader(ob, this.optr, conv, KCP_CMD_ACK, 0, wnd, ts, sn, una, 0);
        this.optr += KCP_OVERHEAD;
      }
      this.ackCount = 0;
      this.stats.acksSent += acks;
    }

    // Probe a zero window only while data waits for it.
    if (
      this.rmtWnd === 0 &&
      this.probeWait !== 0 &&
      this.sndQueue.length > 0 &&
      diff32(current, this.tsProbe) >= 0
    ) {
      this.probeWait = Math.min(PROBE_LIMIT, this.probeWait + (this.probeWait >>> 1));
      this.tsProbe = (current + this.probeWait) >>> 0;
      this.probe |= ASK_SEND;
    }
    if (this.probe !== 0) {
      if (this.probe & ASK_SEND) this.writeControl(KCP_CMD_WASK, wnd, una, current);
      if (this.probe & ASK_TELL) this.writeControl(KCP_CMD_WINS, wnd, una, current);
      this.probe = 0;
    }

    if (!this.isDead) this.flushData(current, wnd, una);
    if (this.optr > 0) this.emit();
  }

  /**
   * The path under the connection died and another took over: what is in
   * flight was lost with the old path, and its backed-off timers describe the
   * old path. Makes every unacknowledged segment due now, at the current RTO,
   * so the next flush resends it on the new path instead of waiting out a
   * backoff of seconds.
   */
  expediteRetransmit(now: number): void {
    const current = now >>> 0;
    const buf = this.sndBuf;
    if (buf.count === 0) return;
    const rto = this.rtt.rto;
    for (let sn = this.sndUna; sn !== this.sndNxt; sn = (sn + 1) >>> 0) {
      const seg = buf.slots[sn & buf.mask];
      if (seg == null) continue;
      seg.rto = rto;
      seg.resendts = current >>> 0;
    }
    this.earliestResend = current >>> 0;
  }

  private writeControl(cmd: number, wnd: number, una: number, current: number): void {
    if (this.optr + KCP_OVERHEAD > this.mtu) this.emit();
    writeHeader(this.obuf, this.optr, this.conv, cmd, 0, wnd, current, 0, una, 0);
    this.optr += KCP_OVERHEAD;
    if (cmd === KCP_CMD_WASK) this.stats.probesSent++;
    else this.stats.windowTells++;
  }

  private flushData(current: number, wnd: number, una: number): void {
    const buf = this.sndBuf;
    const window = this.effectiveWindow();
    const rto = this.rtt.rto;
    let fastResends = false;
    let timeouts = false;

    // Retransmissions first: older sequence numbers lead the datagram.
    if (buf.count > 0 && (this.fastPending || diff32(current, this.earliestResend) >= 0)) {
      const resend = this.fastResend > 0 ? this.fastResend : 0x7fffffff;
      const limit = this.fastLimit;
      const stats = this.stats;
      // Far beyond any resend time (those are at most ~1.125 x RTO_MAX ahead).
      let earliest = (current + 0x3fffffff) >>> 0;
      for (let sn = this.sndUna; sn !== this.sndNxt; sn = (sn + 1) >>> 0) {
        const seg = buf.slots[sn & buf.mask];
        if (seg == null) continue;
        if (diff32(current, seg.resendts) >= 0) {
          // Back off: x2, or x1.5 in nodelay mode; never beyond the RTO cap.
          seg.rto = Math.min(KCP_RTO_MAX, seg.rto + (this.nodelay ? seg.rto >>> 1 : Math.max(seg.rto, rto)));
          seg.resendts = (current + seg.rto) >>> 0;
          seg.fastack = 0;
          stats.lostSegments++;
          stats.retransmits++;
          timeouts = true;
          this.transmit(seg, current, wnd, una);
        } else if (seg.fastack >= resend && (limit === 0 || seg.xmit <= limit)) {
          seg.fastack = 0;
          seg.resendts = (current + seg.rto) >>> 0;
          stats.fastRetransmits++;
          stats.retransmits++;
          fastResends = true;
          this.transmit(seg, current, wnd, una);
        }
        if (diff32(seg.resendts, earliest) < 0) earliest = seg.resendts;
      }
      this.earliestResend = earliest;
    }
    // Also cleared when the segments that earned it were acked meanwhile.
    this.fastPending = false;

    // New data, as far as the send, remote and congestion windows allow.
    const q = this.sndQueue;
    if (q.length > 0) {
      const limitSn = (this.sndUna + window) >>> 0;
      if (diff32(this.sndNxt, limitSn) < 0) {
        const firstResend = (current + rto + (this.nodelay ? 0 : rto >> 3)) >>> 0;
        buf.ensureSpan(this.sndUna, diff32(limitSn, this.sndUna));
        if (buf.count === 0 || diff32(firstResend, this.earliestResend) < 0) this.earliestResend = firstResend;
        let budget = this.maxBurst > 0 ? this.maxBurst : 0x7fffffff;
        while (q.length > 0 && diff32(this.sndNxt, limitSn) < 0 && budget-- > 0) {
          const seg = q.shift();
          if (seg === undefined) break;
          // A stream segment leaving the queue can no longer grow: trim spare room.
          if (seg.len !== seg.data.length) seg.data = seg.data.subarray(0, seg.len);
          seg.sn = this.sndNxt;
          this.sndNxt = (this.sndNxt + 1) >>> 0;
          seg.rto = rto;
          seg.resendts = firstResend;
          buf.slots[seg.sn & buf.mask] = seg;
          buf.count++;
          this.transmit(seg, current, wnd, una);
        }
      }
    }

    if (fastResends) this.cc.onFastResend((this.sndNxt - this.sndUna) >>> 0, this.fastResend, this.mss);
    if (timeouts) this.cc.onTimeout(window, this.mss);
  }

  private transmit(seg: SendSegment, current: number, wnd: number, una: number): void {
    const len = seg.len;
    if (this.optr + KCP_OVERHEAD + len > this.mtu && this.optr > 0) this.emit();
    const ob = this.obuf;
    const o = this.optr;
    seg.ts = current;
    seg.xmit++;
    writeHeader(ob, o, this.conv, KCP_CMD_PUSH, seg.frg, wnd, current, seg.sn, una, len);
    if (len > 0) ob.set(seg.data, o + KCP_OVERHEAD);
    this.optr = o + KCP_OVERHEAD + len;
    this.stats.segmentsSent++;
    if (seg.xmit >= this.deadLink) this.isDead = true;
  }

  private emit(): void {
    const n = this.optr;
    this.optr = 0;
    this.stats.datagramsOut++;
    this.output(this.obuf.subarray(0, n));
  }

  // ---------------------------------------------------------- configuration

  /** Applies a preset (nodelay, interval, resend, noCongestion and the matching minRto). */
  setMode(mode: KcpMode): void {
    this.applyTuning(tuningForMode(mode));
  }

  /** Sets the send and receive windows, in segments (1..65535). */
  setWindow(snd: number, rcv: number): void {
    this.sndWnd = checkWindow(snd, 'sndwnd');
    const r = checkWindow(rcv, 'rcvwnd');
    this.rcvBuf.ensureCapacity(r, this.rcvNxt);
    this.rcvQueue.ensureCapacity(r);
    this.rcvWnd = r;
  }

  /** Sets the MTU; segments already queued keep their size. */
  setMtu(mtu: number): void {
    checkMtu(mtu);
    // Keep the largest buffer ever needed: queued segments may be MSS-sized for an older, larger MTU.
    if (mtu > this.obuf.length) this.obuf = Buffer.alloc(mtu);
    this.mtu = mtu;
    this.mss = mtu - KCP_OVERHEAD;
  }

  private applyTuning(t: KcpTuning): void {
    this.nodelay = t.nodelay;
    this.interval = t.interval;
    this.fastResend = t.resend;
    this.noCwnd = t.noCongestion;
    this.minRto = t.minRto;
  }

  /** Frees every queue. Afterwards send() throws ERR_KCP_RELEASED and the rest are no-ops. */
  release(): void {
    this.released = true;
    this.sndQueue.clear();
    this.sndBuf.clear();
    this.rcvBuf.clear();
    this.rcvQueue.clear();
    this.ackCount = 0;
    this.ackSn = [];
    this.ackTs = [];
    this.probe = 0;
    this.fastPending = false;
  }

  getState(): KcpStateSnapshot {
    return {
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      rcvNxt: this.rcvNxt,
      sndQueue: this.sndQueue.length,
      sndBuf: this.sndBuf.count,
      rcvBuf: this.rcvBuf.count,
      rcvQueue: this.rcvQueue.length,
      pendingAcks: this.ackCount,
      rmtWnd: this.rmtWnd,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      srtt: this.rtt.srtt,
      rttvar: this.rtt.rttvar,
      rto: this.rtt.rto,
      probe: this.probe,
      probeWait: this.probeWait,
      dead: this.isDead,
    };
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

import { SEALED_OVERHEAD, type SessionKeys } from '../crypto/index.js';
import { deriveRecordKeys } from '../crypto/derived-keys.js';
import { RecordSealer } from '../crypto/record-sealer.js';
import { RecordOpener } from '../crypto/record-opener.js';
import type { RecordPath } from '../path/record-path.js';
import type { ByteLedger } from './byte-ledger.js';
import { DATA_HEADER_LENGTH, FRAME_HEADER_LENGTH, encodeAck, encodeDataHeader, encodeDatagramHeader } from './resume-frame.js';
import { MAX_UDP_PAYLOAD } from './datagram-channel.js';

/**
 * The relay went quiet this long after records with data were arriving: say
 * once what was delivered. A dead relay connection (a NAT that forgot it, a
 * rendezvous that died without a FIN reaching us) is only noticed when this
 * side sends, and a side that only receives would otherwise send nothing
 * until the mux keepalive, seconds later. Once per silence: an idle session
 * stays asleep, and ACK-only records never arm it, so two quiet peers do not
 * answer each other's probes.
 */
export const RELAY_SILENCE_PROBE_MS = 1000;

/** Most of the byte stream in one relay record: one AEAD and one frame per this many bytes. */
export const RECORD_DATA_CHUNK = 128 * 1024;

/** An ACK frame's size: type, length, offset. */
const ACK_FRAME_LENGTH = 12;

/**
 * A session's relay side: the byte stream as sealed records (the relay is
 * TCP, so no ARQ of ours), with its own keys and counters. Knows the ledger
 * it sends from, nothing of KCP or the mux. The session decides when to
 * flush; this decides what a record holds and when the path said "enough".
 */
export class RecordCarrier {
  private readonly sealer: RecordSealer;
  private readonly opener: RecordOpener;
  /** The path send() last told "stop"; cleared on its drain or on a new path. */
  private blockedOn: RecordPath | null = null;
  /** Record paths paused because readers hold the receive budget. */
  private readonly paused = new Set<RecordPath>();
  private lastDataAt = -Infinity;
  private silenceProbed = true;
  recordsIn = 0;
  recordsOut = 0;

  constructor(
    keys: SessionKeys,
    /** Runs when a blocked path drained: the session flushes again. */
    private readonly onDrained: () => void,
  ) {
    const recordKeys = deriveRecordKeys(keys);
    this.sealer = new RecordSealer(recordKeys.sendKey, { aead: keys.aead });
    this.opener = new RecordOpener(recordKeys.recvKey, { aead: keys.aead });
  }

  /** The plaintext of an authentic record (counted), or null. */
  open(record: Buffer): Buffer | null {
    const plain = this.opener.open(record);
    if (plain !== null) this.recordsIn++;
    return plain;
  }

  /** A record delivered new bytes of the stream at `now` (arms the silence probe). */
  dataArrived(now: number): void {
    this.lastDataAt = now;
    this.silenceProbed = false;
  }

  /** When the silence probe is due (Infinity when it is not armed). */
  probeDeadline(): number {
    return this.silenceProbed ? Infinity : this.lastDataAt + RELAY_SILENCE_PROBE_MS;
  }

  /** Readers hold the receive budget: stop reading `path` until resumeAll(). */
  pause(path: RecordPath): void {
    if (this.paused.has(path)) return;
    path.pauseReading();
    this.paused.add(path);
  }

  resumeAll(): void {
    for (const p of this.paused) p.resumeReading();
    this.paused.clear();
  }

  /** Sends what is due on `path`: the probe or an ACK, then as much of the stream as it takes. */
  flush(path: RecordPath, ledger: ByteLedger, now: number): void {
    if (!this.silenceProbed && now >= this.lastDataAt + RELAY_SILENCE_PROBE_MS) {
      this.silenceProbed = true;
      ledger.ackNow();
    }
    let ack = ledger.pollAck(now);
    const room = Math.min(RECORD_DATA_CHUNK, path.maxRecord - SEALED_OVERHEAD - DATA_HEADER_LENGTH - ACK_FRAME_LENGTH);
    for (;;) {
      const blocked = this.blockedOn === path;
      const data = !blocked && ledger.unsent > 0 ? ledger.pollData(room) : null;
      if (data === null && ack === null) return;
      const parts: Uint8Array[] = [];
      if (ack !== null) parts.push(encodeAck(ack));
      if (data !== null) parts.push(encodeDataHeader(data.offset, data.bytes.length), data.bytes);
      ack = null;
      // An ACK-only record goes even over the mark: it is tiny, and it is
      // what lets the peer free what it keeps.
      this.send(path, parts);
      if (data === null) return;
    }
  }

  /** Largest datagram one record on `path` carries. */
  datagramLimit(path: RecordPath): number {
    return Math.max(0, Math.min(MAX_UDP_PAYLOAD, path.maxRecord - SEALED_OVERHEAD - FRAME_HEADER_LENGTH));
  }

  /**
   * One datagram as a record of its own. A back-pressured relay drops it
   * (false) rather than queue it: a datagram late by a full relay queue is
   * worth less than the room it takes, and UDP services expect loss.
   */
  sendDatagram(path: RecordPath, payload: Uint8Array): boolean {
    if (this.blockedOn === path) return false;
    this.send(path, [encodeDatagramHeader(payload.byteLength), payload]);
    return true;
  }

  /** Seals and queues one record; a path over its mark blocks the carrier until it drains. */
  private send(path: RecordPath, parts: Uint8Array[]): void {
    this.recordsOut++;
    if (path.send(this.sealer.seal(parts)) || this.blockedOn === path) return;
    this.blockedOn = path;
    path.onDrain(() => {
      if (this.blockedOn !== path) return;
      this.blockedOn = null;
      this.onDrained();
    });
  }

  /** Forgets paused paths (the session closed). */
  release(): void {
    this.paused.clear();
    this.blockedOn = null;
  }
}

import type { KeyObject } from 'node:crypto';
import { openSealed } from './aead-cipher.js';
import { PacketKind, type SessionPacketKind } from '../wire/packet-kind.js';
import { importAeadKey } from './key-material.js';
import { DEFAULT_AEAD, type AeadAlgorithm } from './aead.js';
import { MAX_COUNTER_HIGH_WORD, NONCE_LENGTH, SEALED_OVERHEAD } from './packet-format.js';
import { ReplayVerdict, ReplayWindow } from './replay-window.js';

/**
 * Counters a session remembers behind the newest one: a packet up to this far
 * behind is still accepted once. The one default for every session (SecureKcp
 * and a bare PacketOpener alike). Sized for KCP's 1024-segment windows, whose
 * data and acks share one counter per direction, with room for the moment a
 * session moves paths and the relay's backlog lands after newer packets from
 * the direct path.
 */
export const DEFAULT_REPLAY_WINDOW = 4096;

/** Why packets were dropped (and how many were accepted). Counts only grow. */
export interface OpenerStats {
  accepted: number;
  /** Shorter than the 25-byte minimum. */
  truncated: number;
  /** First byte is not the opener's kind (PacketKind.Session unless told otherwise). */
  wrongKind: number;
  /** Counter >= 2^53: no sealer ever sends it, so it's forged or corrupt. */
  outOfRange: number;
  /** Counter already accepted. */
  replayed: number;
  /** Counter older than the replay window. */
  tooOld: number;
  /** Tag did not verify: tampered, wrong key, or not ours. */
  authFailed: number;
}

export interface PacketOpenerOptions {
  /** Counters remembered behind the highest accepted one. Default DEFAULT_REPLAY_WINDOW (4096). */
  replayWindow?: number;
  /** Default DEFAULT_AEAD (ChaCha20-Poly1305). */
  aead?: AeadAlgorithm;
  /** The kind of packet this opener takes. Default PacketKind.Session (KCP). */
  kind?: SessionPacketKind;
}

/**
 * Opens incoming session packets for one direction: checks the header, the
 * replay window, then the tag. The window moves only after a packet
 * authenticated, so forged counters can't push real packets out of it.
 */
export class PacketOpener {
  private readonly counts: OpenerStats = {
    accepted: 0,
    truncated: 0,
    wrongKind: 0,
    outOfRange: 0,
    replayed: 0,
    tooOld: 0,
    authFailed: 0,
  };
  private readonly key: KeyObject;
  readonly aead: AeadAlgorithm;
  private readonly kind: SessionPacketKind;
  private readonly window: ReplayWindow;
  private readonly nonce = Buffer.alloc(NONCE_LENGTH);

  constructor(key: Uint8Array, opts?: PacketOpenerOptions) {
    this.key = importAeadKey(key, 'opening key');
    this.aead = opts?.aead ?? DEFAULT_AEAD;
    this.kind = opts?.kind ?? PacketKind.Session;
    this.window = new ReplayWindow(opts?.replayWindow ?? DEFAULT_REPLAY_WINDOW);
  }

  /** Live counters (read-only view). */
  get stats(): Readonly<OpenerStats> {
    return this.counts;
  }

  /** Highest counter accepted so far, or -1. */
  get highestCounter(): number {
    return this.window.highest;
  }

  /** The plaintext, or null if the packet is rejected (counted in `stats`). Never throws. */
  open(packet: Uint8Array): Buffer | null {
    const stats = this.counts;
    const length = packet.length;
    if (length < SEALED_OVERHEAD) {
      stats.truncated++;
      return null;
    }
    if (packet[0] !== this.kind) {
      stats.wrongKind++;
      return null;
    }
    const buf = Buffer.isBuffer(packet) ? packet : Buffer.from(packet.buffer, packet.byteOffset, length);
    const hi = buf.readUInt32BE(1);
    const lo = buf.readUInt32BE(5);
    if (hi >= MAX_COUNTER_HIGH_WORD) {
      stats.outOfRange++;
      return null;
    }
    const counter = hi * 2 ** 32 + lo;
    const verdict = this.window.verdict(counter);
    if (verdict !== ReplayVerdict.Fresh) {
      if (verdict === ReplayVerdict.Replayed) stats.replayed++;
      else stats.tooOld++;
      return null;
    }

    const plaintext = openSealed(this.aead, this.key, this.nonce, buf, hi, lo);
    if (plaintext === null) {
      stats.authFailed++;
      return null;
    }
    this.window.commit(counter);
    stats.accepted++;
    return plaintext;
  }
}

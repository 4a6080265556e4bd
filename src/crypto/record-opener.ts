import type { KeyObject } from 'node:crypto';
import { PacketKind } from '../wire/packet-kind.js';
import type { AeadAlgorithm } from './aead.js';
import { importAeadKey } from './key-material.js';
import { NONCE_LENGTH, SEALED_OVERHEAD } from './packet-format.js';
import { openSealed } from './aead-cipher.js';
import { recordAead, type RecordCryptoOptions } from './record-format.js';

/** Why records were refused (and how many were accepted). Counts only grow. */
export interface RecordOpenerStats {
  accepted: number;
  /** Shorter than the 25-byte minimum. */
  truncated: number;
  /** First byte is not PacketKind.Record. */
  wrongKind: number;
  /** Counter is not the one right after the last accepted: replayed, reordered, dropped or forged. */
  outOfOrder: number;
  /** Tag did not verify: tampered, wrong key, wrong AEAD, or not ours. */
  authFailed: number;
}

const TWO_POW_32 = 2 ** 32;

/**
 * Opens the records one direction of a relay link carries. TCP delivers them
 * in order, so only the next counter is accepted (0 first): anything else is a
 * replay, a reorder or a drop by whoever sits on the path. The expected
 * counter moves only after a record authenticated, so a forgery moves nothing.
 */
export class RecordOpener {
  readonly aead: AeadAlgorithm;
  private readonly counts: RecordOpenerStats = { accepted: 0, truncated: 0, wrongKind: 0, outOfOrder: 0, authFailed: 0 };
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(NONCE_LENGTH);
  private expected = 0;

  constructor(key: Uint8Array, opts?: RecordCryptoOptions) {
    this.aead = recordAead(opts);
    this.key = importAeadKey(key, 'record opening key');
  }

  /** Live counters (read-only view). */
  get stats(): Readonly<RecordOpenerStats> {
    return this.counts;
  }

  /** The counter the next record must carry (= records accepted so far). */
  get counter(): number {
    return this.expected;
  }

  /** The plaintext (a new Buffer), or null if the record is refused (counted in `stats`). Never throws. */
  open(record: Uint8Array): Buffer | null {
    const stats = this.counts;
    const length = record.length;
    if (length < SEALED_OVERHEAD) {
      stats.truncated++;
      return null;
    }
    if (record[0] !== PacketKind.Record) {
      stats.wrongKind++;
      return null;
    }
    const buf = Buffer.isBuffer(record) ? record : Buffer.from(record.buffer, record.byteOffset, length);
    const hi = buf.readUInt32BE(1);
    const lo = buf.readUInt32BE(5);
    const expected = this.expected;
    // Compared word by word: a forged high word never becomes an inexact number.
    if (hi !== Math.floor(expected / TWO_POW_32) || lo !== expected >>> 0) {
      stats.outOfOrder++;
      return null;
    }

    const plaintext = openSealed(this.aead, this.key, this.nonce, buf, hi, lo);
    if (plaintext === null) {
      stats.authFailed++;
      return null;
    }
    this.expected = expected + 1;
    stats.accepted++;
    return plaintext;
  }
}

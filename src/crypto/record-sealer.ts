import type { KeyObject } from 'node:crypto';
import { BurrowError } from '../errors.js';
import { PacketKind } from '../wire/packet-kind.js';
import type { AeadAlgorithm } from './aead.js';
import { importAeadKey } from './key-material.js';
import { MAX_COUNTER, NONCE_LENGTH } from './packet-format.js';
import { sealSealed } from './aead-cipher.js';
import { recordAead, type RecordCryptoOptions } from './record-format.js';

/**
 * Seals the records one direction of a relay link carries (layout in
 * record-format.ts). Counters start at 0 and never repeat for the key's life.
 */
export class RecordSealer {
  readonly aead: AeadAlgorithm;
  private readonly key: KeyObject;
  /** Reused for every record: createCipheriv copies the nonce. */
  private readonly nonce = Buffer.alloc(NONCE_LENGTH);
  /** Counter of the next record. Protected only so tests can reach the limit. */
  protected next = 0;

  constructor(key: Uint8Array, opts?: RecordCryptoOptions) {
    this.aead = recordAead(opts);
    this.key = importAeadKey(key, 'record sealing key');
  }

  /** The counter the next record will carry (= records sealed so far). */
  get counter(): number {
    return this.next;
  }

  /** Returns a new Buffer the caller owns: header, ciphertext, tag (plaintext + 25 bytes). */
  seal(plaintext: Uint8Array | readonly Uint8Array[]): Buffer {
    const counter = this.next;
    if (counter >= MAX_COUNTER) {
      throw new BurrowError('ERR_CRYPTO_COUNTER_EXHAUSTED', `record counter reached ${MAX_COUNTER}; the session must rekey`);
    }
    this.next = counter + 1;

    return sealSealed(this.aead, this.key, this.nonce, PacketKind.Record, counter, plaintext);
  }
}

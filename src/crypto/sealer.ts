import type { KeyObject } from 'node:crypto';
import { sealSealed } from './aead-cipher.js';
import { BurrowError } from '../errors.js';
import { PacketKind, type SessionPacketKind } from '../wire/packet-kind.js';
import { importAeadKey } from './key-material.js';
import { DEFAULT_AEAD, type AeadAlgorithm } from './aead.js';
import { MAX_COUNTER, NONCE_LENGTH } from './packet-format.js';

export interface PacketSealerOptions {
  /** Default DEFAULT_AEAD (ChaCha20-Poly1305). */
  aead?: AeadAlgorithm;
  /** First byte of every packet. Default PacketKind.Session (KCP); Datagram for unreliable datagrams. */
  kind?: SessionPacketKind;
}

/**
 * Seals outgoing session packets for one direction (see packet-format.ts for
 * the layout). Counters start at 0 and never repeat for the life of the key.
 */
export class PacketSealer {
  private readonly key: KeyObject;
  readonly aead: AeadAlgorithm;
  private readonly kind: SessionPacketKind;
  /** Reused for every packet: createCipheriv copies the nonce. */
  private readonly nonce = Buffer.alloc(NONCE_LENGTH);
  /** Counter of the next packet. Protected only so tests can reach the limit. */
  protected next = 0;

  constructor(key: Uint8Array, opts?: PacketSealerOptions) {
    this.key = importAeadKey(key, 'sealing key');
    this.aead = opts?.aead ?? DEFAULT_AEAD;
    this.kind = opts?.kind ?? PacketKind.Session;
  }

  /** The counter the next sealed packet will carry (= packets sealed so far). */
  get counter(): number {
    return this.next;
  }

  /** Returns a new Buffer: header, ciphertext and tag (plaintext + 25 bytes). */
  seal(plaintext: Uint8Array): Buffer {
    const counter = this.next;
    if (counter >= MAX_COUNTER) {
      throw new BurrowError(
        'ERR_CRYPTO_COUNTER_EXHAUSTED',
        `packet counter reached ${MAX_COUNTER}; the session must rekey`,
      );
    }
    this.next = counter + 1;

    return sealSealed(this.aead, this.key, this.nonce, this.kind, counter, plaintext);
  }
}

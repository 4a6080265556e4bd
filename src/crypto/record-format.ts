import {
  createCipheriv,
  createDecipheriv,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import { BurrowError } from '../errors.js';
import { AEAD_ALGORITHMS, DEFAULT_AEAD, type AeadAlgorithm } from './aead.js';
import { AEAD_OPTIONS, SEALED_OVERHEAD } from './packet-format.js';

/**
 * A sealed record is laid out exactly like a sealed session packet
 * (packet-format.ts: kind u8, counter u64 BE, ciphertext, 16-byte tag; AAD =
 * the 9 header bytes; nonce = 4 zero bytes || counter), with kind
 * PacketKind.Record and the record keys of record-keys.ts. Records travel in
 * order over one TCP connection, so the opener takes only the next counter.
 */
export const RECORD_OVERHEAD = SEALED_OVERHEAD;

export interface RecordCryptoOptions {
  /** Default DEFAULT_AEAD. Both ends must use the same. */
  aead?: AeadAlgorithm;
}

/** The AEAD from the options, checked (options may come from untyped callers). */
export function recordAead(opts: RecordCryptoOptions | undefined): AeadAlgorithm {
  const aead = opts?.aead ?? DEFAULT_AEAD;
  if (!AEAD_ALGORITHMS.includes(aead)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `aead must be one of ${AEAD_ALGORITHMS.join(', ')}, got ${String(aead)}`);
  }
  return aead;
}

// node:crypto's typings pick an overload per algorithm literal, so a union
// needs one call per branch; both take a 12-byte nonce and a 16-byte tag.
export function aeadCipher(aead: AeadAlgorithm, key: KeyObject, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createCipheriv(aead, key, nonce, AEAD_OPTIONS) : createCipheriv(aead, key, nonce, AEAD_OPTIONS);
}

export function aeadDecipher(aead: AeadAlgorithm, key: KeyObject, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createDecipheriv(aead, key, nonce, AEAD_OPTIONS) : createDecipheriv(aead, key, nonce, AEAD_OPTIONS);
}

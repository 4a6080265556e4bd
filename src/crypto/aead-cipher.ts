import { createCipheriv, createDecipheriv, type CipherGCM, type CipherChaCha20Poly1305, type DecipherGCM, type DecipherChaCha20Poly1305, type KeyObject } from 'node:crypto';
import type { AeadAlgorithm } from './aead.js';
import { AEAD_OPTIONS } from './packet-format.js';

/**
 * One node:crypto cipher per packet (a cipher object can't take a new nonce).
 * A branch per algorithm because node's typings give each AEAD family its own
 * overload; both families have the same setAAD/update/final/tag calls.
 */
export function newCipher(aead: AeadAlgorithm, key: KeyObject, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createCipheriv(aead, key, nonce, AEAD_OPTIONS) : createCipheriv(aead, key, nonce, AEAD_OPTIONS);
}

export function newDecipher(aead: AeadAlgorithm, key: KeyObject, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createDecipheriv(aead, key, nonce, AEAD_OPTIONS) : createDecipheriv(aead, key, nonce, AEAD_OPTIONS);
}

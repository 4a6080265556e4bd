import { createCipheriv, createDecipheriv, type CipherGCM, type CipherChaCha20Poly1305, type DecipherGCM, type DecipherChaCha20Poly1305, type KeyObject } from 'node:crypto';
import type { AeadAlgorithm } from './aead.js';
import { AEAD_OPTIONS, SEALED_HEADER_LENGTH, SEALED_OVERHEAD, SEALED_TAG_LENGTH, writeCounter } from './packet-format.js';

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

/**
 * Seals one packet or record (packet-format.ts: kind, counter, ciphertext,
 * tag; AAD = the header) into a new Buffer. `nonce` is the caller's reusable
 * 12-byte buffer (createCipheriv copies it).
 */
export function sealSealed(
  aead: AeadAlgorithm,
  key: KeyObject,
  nonce: Buffer,
  kind: number,
  counter: number,
  plaintext: Uint8Array | readonly Uint8Array[],
): Buffer {
  // Pieces are enciphered one after another into the output: a record made of
  // an ACK, a DATA header and the bytes is never joined first.
  const parts = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(length + SEALED_OVERHEAD);
  out[0] = kind;
  writeCounter(out, 1, counter);
  writeCounter(nonce, 4, counter);
  const cipher = newCipher(aead, key, nonce);
  cipher.setAAD(out.subarray(0, SEALED_HEADER_LENGTH), { plaintextLength: length });
  let at = SEALED_HEADER_LENGTH;
  for (const p of parts) at += cipher.update(p).copy(out, at);
  cipher.final();
  cipher.getAuthTag().copy(out, SEALED_HEADER_LENGTH + length);
  return out;
}

/**
 * The plaintext of a sealed packet or record whose header the caller has
 * checked (length, kind, counter words `hi`/`lo`), or null when the tag does
 * not verify. Never throws.
 */
export function openSealed(aead: AeadAlgorithm, key: KeyObject, nonce: Buffer, buf: Buffer, hi: number, lo: number): Buffer | null {
  nonce.writeUInt32BE(hi, 4);
  nonce.writeUInt32BE(lo, 8);
  const tagAt = buf.length - SEALED_TAG_LENGTH;
  // decipher.final() reports a bad tag by throwing; without a stack trace
  // that costs ~half as much, which matters under a flood of forgeries.
  // Synchronous, and restored in `finally`, so no other code sees the change.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const decipher = newDecipher(aead, key, nonce);
    decipher.setAAD(buf.subarray(0, SEALED_HEADER_LENGTH), { plaintextLength: tagAt - SEALED_HEADER_LENGTH });
    decipher.setAuthTag(buf.subarray(tagAt));
    // update() returns a new Buffer: it is the result, no further copy.
    const plaintext = decipher.update(buf.subarray(SEALED_HEADER_LENGTH, tagAt));
    decipher.final();
    return plaintext;
  } catch {
    return null;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

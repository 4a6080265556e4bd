import { BurrowError } from '../errors.js';
import { AEAD_ALGORITHMS, DEFAULT_AEAD, isAeadAlgorithm, type AeadAlgorithm } from './aead.js';
import { SEALED_OVERHEAD } from './packet-format.js';

/**
 * A sealed record is laid out exactly like a sealed session packet
 * (packet-format.ts: kind u8, counter u64 BE, ciphertext, 16-byte tag; AAD =
 * the 9 header bytes; nonce = 4 zero bytes || counter), with kind
 * PacketKind.Record and the record keys of derived-keys.ts. Records travel in
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
  if (!isAeadAlgorithm(aead)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `aead must be one of ${AEAD_ALGORITHMS.join(', ')}, got ${String(aead)}`);
  }
  return aead;
}

/**
 * Wire format of one sealed session packet (all integers big-endian):
 *
 *   offset  size  field
 *   0       1     kind     = PacketKind.Session (0xb1)
 *   1       8     counter  u64, per-direction packet number, starts at 0
 *   9       n     ciphertext of the n plaintext bytes
 *   9+n     16    authentication tag
 *
 * The AEAD is the session's: ChaCha20-Poly1305 or AES-256-GCM, as the
 * handshake negotiated (src/crypto/aead.ts). Both have a 32-byte key, a
 * 12-byte nonce and a 16-byte tag, so the layout is the same for either; a
 * packet sealed with one never opens with the other.
 *
 * AAD   = the 9 header bytes (kind + counter), so neither can be altered.
 * nonce = 4 zero bytes || counter u64 big-endian (12 bytes).
 * key   = the direction's key from deriveSessionKeys; each direction has its
 *         own key, so the two directions never share a (key, nonce) pair.
 *
 * Counters are carried as u64 on the wire but handled as JS numbers:
 * a decoded counter with its high 32-bit word >= 2^21 (i.e. >= 2^53) is out
 * of range and rejected, so every accepted value is an exact integer. A
 * sealer stops at MAX_COUNTER (2^48) long before that.
 */
export const SEALED_HEADER_LENGTH = 9;
export const SEALED_TAG_LENGTH = 16;
/** Bytes a sealed packet adds to its plaintext: 9 header + 16 tag. */
export const SEALED_OVERHEAD = 25;
export const SESSION_KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
/** A sealer refuses to seal with a counter >= this (exclusive limit). */
export const MAX_COUNTER = 2 ** 48;
/** Decoded counters with a high word at or above this are out of range. */
export const MAX_COUNTER_HIGH_WORD = 2 ** 21;

/** Shared options object, so sealing allocates none per packet. */
export const AEAD_OPTIONS = { authTagLength: SEALED_TAG_LENGTH } as const;

const TWO_POW_32 = 2 ** 32;

/** Writes `counter` as u64 big-endian at `offset`. `counter` must be a safe integer >= 0. */
export function writeCounter(target: Buffer, offset: number, counter: number): void {
  target.writeUInt32BE(Math.floor(counter / TWO_POW_32), offset);
  target.writeUInt32BE(counter >>> 0, offset + 4);
}

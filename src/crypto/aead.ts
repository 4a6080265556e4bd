/**
 * The AEADs a session can seal with. Both take a 32-byte key, a 12-byte nonce
 * and give a 16-byte tag, so the sealed packet and record formats are the
 * same whichever the handshake chose; only the key schedule binds the choice.
 */
export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm'];

/** What a session seals with when nothing was negotiated (and what every older peer uses). */
export const DEFAULT_AEAD: AeadAlgorithm = 'chacha20-poly1305';

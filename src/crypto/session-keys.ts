import { hkdfSync } from 'node:crypto';
import { BurrowError } from '../errors.js';
import { isRole, type Role } from '../role.js';
import { DEFAULT_AEAD, isAeadAlgorithm, type AeadAlgorithm } from './aead.js';
import { SESSION_KEY_LENGTH } from './packet-format.js';

/** One key per direction, from deriveSessionKeys; what SecureKcp and TunnelSession take. */
export interface SessionKeys {
  /** Seals what this side sends (PacketSealer). */
  readonly sendKey: Buffer;
  /** Opens what this side receives (PacketOpener). */
  readonly recvKey: Buffer;
  /** What both keys seal and open with (negotiated in the handshake). */
  readonly aead: AeadAlgorithm;
}

const SALT = Buffer.from('burrow session keys v1', 'utf8');
/**
 * The direction labels name the AEAD, so a key is only ever derived for one
 * algorithm: a relay that edits the negotiated choice leaves the two sides
 * with different keys and the first packet fails to open. ChaCha20-Poly1305
 * keeps the labels of before the negotiation existed, so its keys match an
 * older peer's.
 */
function directionLabel(direction: 'initiator->responder' | 'responder->initiator', aead: AeadAlgorithm): string {
  return aead === 'chacha20-poly1305' ? `burrow v1 ${direction}` : `burrow v1 ${aead} ${direction}`;
}

function directionKey(sessionKey: Uint8Array, label: string, context: string): Buffer {
  // The label comes first and never contains NUL, so label || 0x00 || context
  // is unambiguous for any context string.
  const info = Buffer.from(`${label}\0${context}`, 'utf8');
  return Buffer.from(hkdfSync('sha256', sessionKey, SALT, info, SESSION_KEY_LENGTH));
}

/**
 * Splits a 32-byte session secret into one key per direction with
 * HKDF-SHA256, so the initiator's sendKey is the responder's recvKey and vice
 * versa, and the two directions never share a key (hence never a nonce
 * space). `context` (e.g. a session id or transcript hash) binds the keys to
 * one session; both sides must pass the same string. `aead` (from the
 * handshake) is bound into the HKDF info and carried in the result.
 */
export function deriveSessionKeys(sessionKey: Uint8Array, role: Role, context = '', aead: AeadAlgorithm = DEFAULT_AEAD): SessionKeys {
  if (!(sessionKey instanceof Uint8Array) || sessionKey.byteLength !== SESSION_KEY_LENGTH) {
    const got = sessionKey instanceof Uint8Array ? `${sessionKey.byteLength} bytes` : typeof sessionKey;
    throw new BurrowError('ERR_CRYPTO_KEY', `session key must be ${SESSION_KEY_LENGTH} bytes, got ${got}`);
  }
  if (!isRole(role)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `role must be 'initiator' or 'responder', got ${String(role)}`);
  }
  if (typeof context !== 'string') {
    throw new BurrowError('ERR_INVALID_ARGUMENT', 'context must be a string');
  }
  if (!isAeadAlgorithm(aead)) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `unknown AEAD ${String(aead)}`);
  }
  const i2r = directionKey(sessionKey, directionLabel('initiator->responder', aead), context);
  const r2i = directionKey(sessionKey, directionLabel('responder->initiator', aead), context);
  return role === 'initiator' ? { sendKey: i2r, recvKey: r2i, aead } : { sendKey: r2i, recvKey: i2r, aead };
}

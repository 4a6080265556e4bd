import { hkdfSync } from 'node:crypto';
import { BurrowError } from '../errors.js';
import { SESSION_KEY_LENGTH } from './packet-format.js';
import type { SessionKeys } from './session-keys.js';

/**
 * Relay records and UDP session packets both number from 0 under the same
 * AEAD, so they must never share a key: each record key is HKDF-SHA256 of a
 * packet direction key under a label of its own. One label serves both
 * directions: the inputs already differ per direction, and the initiator's
 * sendKey is the responder's recvKey, so the derived keys pair up the same way.
 */
const RECORD_SALT = Buffer.from('burrow record keys v1', 'utf8');
const RECORD_INFO = Buffer.from('burrow v1 relay records', 'utf8');

function recordKey(directionKey: Uint8Array, which: string): Buffer {
  if (!(directionKey instanceof Uint8Array) || directionKey.byteLength !== SESSION_KEY_LENGTH) {
    const got = directionKey instanceof Uint8Array ? `${directionKey.byteLength} bytes` : typeof directionKey;
    throw new BurrowError('ERR_CRYPTO_KEY', `${which} must be ${SESSION_KEY_LENGTH} bytes, got ${got}`);
  }
  return Buffer.from(hkdfSync('sha256', directionKey, RECORD_SALT, RECORD_INFO, SESSION_KEY_LENGTH));
}

/**
 * The keys for a relay link's records, from a session's packet keys. Every
 * other field of `keys` (e.g. the negotiated AEAD) is kept as it is.
 */
export function deriveRecordKeys(keys: SessionKeys): SessionKeys {
  return { ...keys, sendKey: recordKey(keys.sendKey, 'sendKey'), recvKey: recordKey(keys.recvKey, 'recvKey') };
}

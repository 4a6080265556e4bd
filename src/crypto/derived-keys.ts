import { hkdfSync } from 'node:crypto';
import { BurrowError } from '../errors.js';
import { SESSION_KEY_LENGTH } from './packet-format.js';
import type { SessionKeys } from './session-keys.js';

/**
 * KCP packets, relay records and unreliable datagrams each number from 0
 * under the same AEAD, so no two of them may share a key: each gets its own
 * pair, HKDF-SHA256 of the session's packet direction keys under a label of
 * its own. One label serves both directions: the inputs already differ per
 * direction, and the initiator's sendKey is the responder's recvKey, so the
 * derived keys pair up the same way.
 */
interface KeyLabel {
  salt: Buffer;
  info: Buffer;
}

const RECORD_LABEL: KeyLabel = {
  salt: Buffer.from('burrow record keys v1', 'utf8'),
  info: Buffer.from('burrow v1 relay records', 'utf8'),
};

const DATAGRAM_LABEL: KeyLabel = {
  salt: Buffer.from('burrow datagram keys v1', 'utf8'),
  info: Buffer.from('burrow v1 unreliable datagrams', 'utf8'),
};

function deriveKey(directionKey: Uint8Array, label: KeyLabel, which: string): Buffer {
  if (!(directionKey instanceof Uint8Array) || directionKey.byteLength !== SESSION_KEY_LENGTH) {
    const got = directionKey instanceof Uint8Array ? `${directionKey.byteLength} bytes` : typeof directionKey;
    throw new BurrowError('ERR_CRYPTO_KEY', `${which} must be ${SESSION_KEY_LENGTH} bytes, got ${got}`);
  }
  return Buffer.from(hkdfSync('sha256', directionKey, label.salt, label.info, SESSION_KEY_LENGTH));
}

function derive(keys: SessionKeys, label: KeyLabel): SessionKeys {
  return { ...keys, sendKey: deriveKey(keys.sendKey, label, 'sendKey'), recvKey: deriveKey(keys.recvKey, label, 'recvKey') };
}

/**
 * The keys for a relay link's records, from a session's packet keys. Every
 * other field of `keys` (e.g. the negotiated AEAD) is kept as it is.
 */
export function deriveRecordKeys(keys: SessionKeys): SessionKeys {
  return derive(keys, RECORD_LABEL);
}

/** The keys for a session's unreliable datagrams on a direct path (PacketKind.Datagram). */
export function deriveDatagramKeys(keys: SessionKeys): SessionKeys {
  return derive(keys, DATAGRAM_LABEL);
}

import { createSecretKey, type KeyObject } from 'node:crypto';
import { BurrowError } from '../errors.js';
import { SESSION_KEY_LENGTH } from './packet-format.js';

/** Checks a 32-byte key and wraps it in a KeyObject (fastest for createCipheriv). */
export function importAeadKey(key: Uint8Array, what: string): KeyObject {
  if (!(key instanceof Uint8Array) || key.byteLength !== SESSION_KEY_LENGTH) {
    const got = key instanceof Uint8Array ? `${key.byteLength} bytes` : typeof key;
    throw new BurrowError('ERR_CRYPTO_KEY', `${what} must be ${SESSION_KEY_LENGTH} bytes, got ${got}`);
  }
  return createSecretKey(key);
}

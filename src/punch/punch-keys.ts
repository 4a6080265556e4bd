import { hkdfSync } from 'node:crypto';
import { BurrowError } from '../errors.js';
import type { Role } from '../role.js';

/**
 * Keys for punch probes, derived from the end-to-end session key (the PAKE's
 * output), so only the two peers can make a probe the other accepts: not a
 * third host, not the rendezvous (which never learns the session key).
 * One MAC key per direction, so a peer's own probe reflected back at it is
 * not taken for the other side's.
 */
export interface PunchKeys {
  /** MACs what this side sends. */
  sendKey: Buffer;
  /** Checks what this side receives. */
  recvKey: Buffer;
  /** 8 bytes both sides put in every probe: which session a probe belongs to. */
  tag: Buffer;
}

const SALT = Buffer.from('burrow punch keys v1', 'utf8');

function hkdf(key: Uint8Array, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', key, SALT, Buffer.from(info, 'utf8'), length));
}

export function derivePunchKeys(sessionKey: Uint8Array, role: Role, context: string): PunchKeys {
  if (!(sessionKey instanceof Uint8Array) || sessionKey.byteLength !== 32) {
    throw new BurrowError('ERR_CRYPTO_KEY', 'punch keys need the 32-byte session key');
  }
  const i2r = hkdf(sessionKey, `initiator->responder\0${context}`, 32);
  const r2i = hkdf(sessionKey, `responder->initiator\0${context}`, 32);
  const tag = hkdf(sessionKey, `tag\0${context}`, 8);
  return role === 'initiator' ? { sendKey: i2r, recvKey: r2i, tag } : { sendKey: r2i, recvKey: i2r, tag };
}

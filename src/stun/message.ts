/**
 * The STUN message codec (RFC 8489 section 5 and 14), sans-I/O.
 *
 * decodeMessage never throws: any byte string yields either a message or a
 * typed failure, and its cost is bounded (MAX_MESSAGE_SIZE, MAX_ATTRIBUTES).
 * Attribute values are kept as raw bytes; address.ts and binding.ts read the
 * ones burrow uses. FINGERPRINT is checked when present; MESSAGE-INTEGRITY is
 * carried but not checked (Binding needs no credentials here).
 */
import { crc32 } from 'node:zlib';
import { BurrowError } from '../errors.js';
import { at } from '../util/at.js';
import { readU32BE } from '../util/bytes.js';
import {
  Attr,
  FINGERPRINT_XOR,
  HEADER_SIZE,
  ID_SIZE,
  MAGIC_COOKIE,
  MAX_ATTRIBUTES,
  MAX_MESSAGE_SIZE,
  type StunClass,
} from './constants.js';

export interface StunAttribute {
  readonly type: number;
  /** The value without padding. */
  readonly value: Uint8Array;
}

export interface StunMessage {
  /** 12-bit method (Binding = 1). */
  readonly method: number;
  readonly cls: StunClass;
  /**
   * Header bytes 4..19. For RFC 5389+ messages: the magic cookie, then the
   * 96-bit transaction id; for RFC 3489 messages, a 128-bit transaction id.
   */
  readonly id: Uint8Array;
  readonly attributes: readonly StunAttribute[];
}

export type StunDecodeError =
  | 'too-short'
  | 'too-large'
  | 'not-stun'
  | 'bad-length'
  | 'truncated-attribute'
  | 'too-many-attributes'
  | 'attribute-after-fingerprint'
  | 'bad-fingerprint';

export type StunDecodeResult = { ok: true; message: StunMessage } | { ok: false; error: StunDecodeError };

const CLASSES: readonly StunClass[] = ['request', 'indication', 'success', 'error'];

/** The 14-bit message type from method and class (RFC 8489 figure 3). */
export function messageType(method: number, cls: StunClass): number {
  const c = CLASSES.indexOf(cls);
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7);
}

function splitType(type: number): { method: number; cls: StunClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const c = ((type >> 4) & 1) | ((type >> 7) & 2);
  return { method, cls: at(CLASSES, c) };
}

/** True when the header carries the RFC 5389 magic cookie (so XOR addresses and FINGERPRINT apply). */
export function hasMagicCookie(id: Uint8Array): boolean {
  return id.length === ID_SIZE && readU32BE(id, 0) === MAGIC_COOKIE;
}

/** The transaction id as a map key (all 16 header bytes, so RFC 3489 ids work too). */
export function transactionKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

export function decodeMessage(data: Uint8Array): StunDecodeResult {
  if (data.length < HEADER_SIZE) return fail('too-short');
  if (data.length > MAX_MESSAGE_SIZE) return fail('too-large');
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const type = b.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return fail('not-stun');
  const length = b.readUInt16BE(2);
  // One message per datagram, attributes padded to 4 bytes.
  if (length % 4 !== 0 || length !== b.length - HEADER_SIZE) return fail('bad-length');
  const id = Uint8Array.prototype.slice.call(b, 4, HEADER_SIZE);
  const attributes: StunAttribute[] = [];
  let off = HEADER_SIZE;
  let sawFingerprint = false;
  while (off < b.length) {
    if (sawFingerprint) return fail('attribute-after-fingerprint');
    if (attributes.length >= MAX_ATTRIBUTES) return fail('too-many-attributes');
    if (off + 4 > b.length) return fail('truncated-attribute');
    const atype = b.readUInt16BE(off);
    const alen = b.readUInt16BE(off + 2);
    const padded = alen + ((4 - (alen % 4)) % 4);
    if (off + 4 + padded > b.length) return fail('truncated-attribute');
    const value = Uint8Array.prototype.slice.call(b, off + 4, off + 4 + alen);
    if (atype === Attr.Fingerprint) {
      if (alen !== 4) return fail('bad-fingerprint');
      const want = (crc32(b.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
      if (b.readUInt32BE(off + 4) !== want) return fail('bad-fingerprint');
      sawFingerprint = true;
    }
    attributes.push({ type: atype, value });
    off += 4 + padded;
  }
  const { method, cls } = splitType(type);
  return { ok: true, message: { method, cls, id, attributes } };
}

export interface EncodeOptions {
  /** Append FINGERPRINT (only meaningful with the magic cookie). */
  fingerprint?: boolean;
}

/** Encodes a message; throws ERR_INVALID_ARGUMENT on a message no peer could decode. */
export function encodeMessage(msg: StunMessage, opts: EncodeOptions = {}): Buffer {
  if (msg.id.length !== ID_SIZE) throw invalid(`a STUN id is ${ID_SIZE} bytes (cookie + transaction id), got ${msg.id.length}`);
  if (!Number.isInteger(msg.method) || msg.method < 0 || msg.method > 0xfff) throw invalid(`bad STUN method ${msg.method}`);
  const count = msg.attributes.length + (opts.fingerprint ? 1 : 0);
  if (count > MAX_ATTRIBUTES) throw invalid(`at most ${MAX_ATTRIBUTES} attributes, got ${count}`);
  let size = HEADER_SIZE;
  for (const a of msg.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0xffff) throw invalid(`bad attribute type ${a.type}`);
    if (a.value.length > 0xffff) throw invalid(`attribute 0x${a.type.toString(16)} too long`);
    size += attributeSize(a.value.length);
  }
  if (opts.fingerprint) size += 8;
  if (size > MAX_MESSAGE_SIZE) throw invalid(`STUN message of ${size} bytes exceeds ${MAX_MESSAGE_SIZE}`);
  const b = Buffer.alloc(size);
  b.writeUInt16BE(messageType(msg.method, msg.cls), 0);
  b.writeUInt16BE(size - HEADER_SIZE, 2);
  b.set(msg.id, 4);
  let off = HEADER_SIZE;
  for (const a of msg.attributes) {
    b.writeUInt16BE(a.type, off);
    b.writeUInt16BE(a.value.length, off + 2);
    b.set(a.value, off + 4);
    off += attributeSize(a.value.length);
  }
  if (opts.fingerprint) {
    b.writeUInt16BE(Attr.Fingerprint, off);
    b.writeUInt16BE(4, off + 2);
    b.writeUInt32BE((crc32(b.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0, off + 4);
  }
  return b;
}

/** Bytes an attribute with a value of `valueLength` takes on the wire (header + padded value). */
export function attributeSize(valueLength: number): number {
  return 4 + valueLength + ((4 - (valueLength % 4)) % 4);
}

/** The first attribute of a type, if any. */
export function findAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  return msg.attributes.find((a) => a.type === type);
}

function fail(error: StunDecodeError): StunDecodeResult {
  return { ok: false, error };
}

function invalid(message: string): BurrowError {
  return new BurrowError('ERR_INVALID_ARGUMENT', message);
}

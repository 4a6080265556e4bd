/**
 * Binding requests and responses: what a client sends and what it reads back.
 */
import type { UdpEndpoint } from '../net/udp-socket.js';
import { BurrowError } from '../errors.js';
import { u8 } from '../util/bytes.js';
import { decodeAddressValue, decodeXorAddressValue } from './address.js';
import { Attr, CHANGE_IP, CHANGE_PORT, HEADER_SIZE, ID_SIZE, MAGIC_COOKIE_BYTES, Method } from './constants.js';
import { attributeSize, encodeMessage, findAttribute, hasMagicCookie, type StunAttribute, type StunMessage } from './message.js';

/**
 * What our requests are padded to (RFC 5780 PADDING). The responder never
 * answers with much more than it was sent (rendezvous/stun-responder.ts), so
 * a request this size gets every attribute it can give, IPv6 included:
 * 20 header + 4 address attributes of 24 + FINGERPRINT 8 = 124.
 */
export const PADDED_REQUEST_SIZE = 124;

/** Header bytes 4..19 for a new RFC 8489 transaction: the magic cookie and 96 random bits. */
export function newStunId(random: (size: number) => Uint8Array): Uint8Array {
  const tid = random(12);
  if (tid.length !== 12) throw new BurrowError('ERR_INVALID_ARGUMENT', `random source returned ${tid.length} bytes, wanted 12`);
  const id = new Uint8Array(ID_SIZE);
  id.set(MAGIC_COOKIE_BYTES, 0);
  id.set(tid, 4);
  return id;
}

export interface BindingRequestOptions {
  /** From newStunId. */
  id: Uint8Array;
  /** RFC 5780 CHANGE-REQUEST: answer from the other IP and/or port. */
  changeIp?: boolean;
  changePort?: boolean;
  /** Pad with PADDING up to at least this many bytes (0 = no padding). Default PADDED_REQUEST_SIZE. */
  padTo?: number;
  /** Append FINGERPRINT. Default true. */
  fingerprint?: boolean;
}

export function encodeBindingRequest(opts: BindingRequestOptions): Buffer {
  const attributes: StunAttribute[] = [];
  if (opts.changeIp || opts.changePort) {
    const flags = (opts.changeIp ? CHANGE_IP : 0) | (opts.changePort ? CHANGE_PORT : 0);
    attributes.push({ type: Attr.ChangeRequest, value: Uint8Array.of(0, 0, 0, flags) });
  }
  const fingerprint = opts.fingerprint ?? true;
  const padTo = opts.padTo ?? PADDED_REQUEST_SIZE;
  let size = HEADER_SIZE + attributes.reduce((n, a) => n + attributeSize(a.value.length), 0) + (fingerprint ? 8 : 0);
  if (padTo > size) {
    // PADDING's own header takes 4 bytes; its value is zeros, a multiple of 4.
    const value = Math.max(0, Math.ceil((padTo - size - 4) / 4) * 4);
    attributes.push({ type: Attr.Padding, value: new Uint8Array(value) });
    size += 4 + value;
  }
  return encodeMessage({ method: Method.Binding, cls: 'request', id: opts.id, attributes }, { fingerprint });
}

/** What a Binding success response says, with the RFC 3489 names as fallbacks. */
export interface BindingResponseInfo {
  /** XOR-MAPPED-ADDRESS if present and valid, else MAPPED-ADDRESS. */
  readonly mapped: UdpEndpoint | null;
  /** OTHER-ADDRESS, else CHANGED-ADDRESS: where a change-IP-and-port answer would come from. */
  readonly other: UdpEndpoint | null;
  /** RESPONSE-ORIGIN, else SOURCE-ADDRESS: where the server says it answered from. */
  readonly origin: UdpEndpoint | null;
}

export function readBindingResponse(msg: StunMessage): BindingResponseInfo {
  return {
    mapped: xorAddress(msg, Attr.XorMappedAddress) ?? address(msg, Attr.MappedAddress),
    other: address(msg, Attr.OtherAddress) ?? address(msg, Attr.ChangedAddress),
    origin: address(msg, Attr.ResponseOrigin) ?? address(msg, Attr.SourceAddress),
  };
}

export type ChangeRequest = { readonly ip: boolean; readonly port: boolean };

/** CHANGE-REQUEST of a request: absent = no change; 'malformed' when its value is not 4 bytes. */
export function readChangeRequest(msg: StunMessage): ChangeRequest | 'malformed' {
  const a = findAttribute(msg, Attr.ChangeRequest);
  if (a === undefined) return { ip: false, port: false };
  if (a.value.length !== 4) return 'malformed';
  const flags = u8(a.value, 3);
  return { ip: (flags & CHANGE_IP) !== 0, port: (flags & CHANGE_PORT) !== 0 };
}

/** ERROR-CODE of an error response: class * 100 + number, and the reason phrase. */
export function readErrorCode(msg: StunMessage): { code: number; reason: string } | null {
  const a = findAttribute(msg, Attr.ErrorCode);
  if (a === undefined || a.value.length < 4) return null;
  const code = (u8(a.value, 2) & 0x07) * 100 + u8(a.value, 3);
  return { code, reason: Buffer.from(a.value.subarray(4)).toString('utf8') };
}

function address(msg: StunMessage, type: number): UdpEndpoint | null {
  const a = findAttribute(msg, type);
  return a === undefined ? null : decodeAddressValue(a.value);
}

function xorAddress(msg: StunMessage, type: number): UdpEndpoint | null {
  const a = findAttribute(msg, type);
  if (a === undefined || !hasMagicCookie(msg.id)) return null;
  return decodeXorAddressValue(a.value, msg.id);
}

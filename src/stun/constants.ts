/** STUN numbers (RFC 8489, RFC 5780, and the RFC 3489 attributes classic clients still use). */

export const HEADER_SIZE = 20;
export const MAGIC_COOKIE = 0x2112a442;
export const MAGIC_COOKIE_BYTES: Readonly<Uint8Array> = Uint8Array.of(0x21, 0x12, 0xa4, 0x42);
/** Bytes 4..19 of the header: the cookie plus 96 random bits, or RFC 3489's 128-bit id. */
export const ID_SIZE = 16;

/**
 * Bounds on what the decoder accepts. A Binding message needs a handful of
 * attributes; a datagram is at most one message. Anything bigger is refused
 * before any per-attribute work, so one packet costs bounded CPU.
 */
export const MAX_MESSAGE_SIZE = 1500;
export const MAX_ATTRIBUTES = 32;

export const Method = {
  Binding: 0x001,
} as const;

export type StunClass = 'request' | 'indication' | 'success' | 'error';

export const Attr = {
  MappedAddress: 0x0001,
  /** RFC 3489; never honoured (it would let anyone aim our answers at a third party). */
  ResponseAddress: 0x0002,
  ChangeRequest: 0x0003,
  /** RFC 3489: where the response was sent from (RESPONSE-ORIGIN's ancestor). */
  SourceAddress: 0x0004,
  /** RFC 3489: the other IP and port (OTHER-ADDRESS's ancestor). */
  ChangedAddress: 0x0005,
  Username: 0x0006,
  Password: 0x0007,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ReflectedFrom: 0x000b,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorMappedAddress: 0x0020,
  Padding: 0x0026,
  ResponsePort: 0x0027,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  ResponseOrigin: 0x802b,
  OtherAddress: 0x802c,
} as const;

/** CHANGE-REQUEST flag bits (RFC 5780 section 7.2). */
export const CHANGE_IP = 0x04;
export const CHANGE_PORT = 0x02;

/** FINGERPRINT is CRC-32 of the message before it, XORed with "STUN". */
export const FINGERPRINT_XOR = 0x5354554e;

/** Types 0x0000-0x7fff must be understood by the receiver (RFC 8489 section 14). */
export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000;
}

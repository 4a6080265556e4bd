/**
 * PCP (RFC 6887) MAP and ANNOUNCE, sans-I/O, IPv4 only (addresses travel as
 * IPv4-mapped IPv6, ::ffff:a.b.c.d).
 *
 * Request header (24 bytes): version 2 | R=0,opcode | reserved u16 |
 *   requested lifetime u32 | client IP (16)
 * Response header (24 bytes): version 2 | R=1,opcode | reserved u8 | result u8 |
 *   lifetime u32 | epoch u32 | reserved (12)
 * MAP body (36 bytes, request and response): nonce (12) | protocol u8 |
 *   reserved (3) | internal port u16 | (suggested|assigned) external port u16 |
 *   (suggested|assigned) external IP (16)
 * Options may follow; a message is at most 1100 bytes and a multiple of 4.
 */
import { BurrowError } from '../errors.js';
import { u8 } from '../util/bytes.js';
import { formatIPv4, requireIPv4 } from './ipv4.js';

export const PCP_PORT = 5351;
export const PCP_VERSION = 2;
export const PCP_NONCE_BYTES = 12;
const OP_ANNOUNCE = 0;
const OP_MAP = 1;
const RESPONSE_BIT = 0x80;
const HEADER = 24;
const MAP_BODY = 36;
const MAX_MESSAGE = 1100;
const IPPROTO_UDP = 17;

export const PcpResult = {
  Success: 0,
  UnsupportedVersion: 1,
  NotAuthorized: 2,
  MalformedRequest: 3,
  UnsupportedOpcode: 4,
  UnsupportedOption: 5,
  MalformedOption: 6,
  NetworkFailure: 7,
  NoResources: 8,
  UnsupportedProtocol: 9,
  UserExceededQuota: 10,
  CannotProvideExternal: 11,
  /** The source address differs from the client IP in the request: a NAT sits between us and the PCP server. */
  AddressMismatch: 12,
  ExcessiveRemotePeers: 13,
} as const;

const RESULT_NAMES: Record<number, string> = {
  0: 'SUCCESS',
  1: 'UNSUPP_VERSION',
  2: 'NOT_AUTHORIZED',
  3: 'MALFORMED_REQUEST',
  4: 'UNSUPP_OPCODE',
  5: 'UNSUPP_OPTION',
  6: 'MALFORMED_OPTION',
  7: 'NETWORK_FAILURE',
  8: 'NO_RESOURCES',
  9: 'UNSUPP_PROTOCOL',
  10: 'USER_EX_QUOTA',
  11: 'CANNOT_PROVIDE_EXTERNAL',
  12: 'ADDRESS_MISMATCH (the PCP server is behind a NAT)',
  13: 'EXCESSIVE_REMOTE_PEERS',
};

export function pcpResultName(code: number): string {
  return RESULT_NAMES[code] ?? `unknown result code ${code}`;
}

export interface PcpMapRequest {
  nonce: Uint8Array;
  /** Our own IPv4 address on the link to the gateway (the request's source address). */
  clientAddress: string;
  internalPort: number;
  /** 0 = let the server choose. */
  suggestedExternalPort: number;
  /** Default 0.0.0.0 (no preference). */
  suggestedExternalAddress?: string;
  /** Seconds; 0 deletes the mapping. */
  lifetimeSeconds: number;
}

function writeMappedIPv4(b: Buffer, offset: number, ip: Uint8Array): void {
  b.fill(0, offset, offset + 10);
  b[offset + 10] = 0xff;
  b[offset + 11] = 0xff;
  b.set(ip, offset + 12);
}

function writeHeader(b: Buffer, opcode: number, lifetimeSeconds: number, clientAddress: string): void {
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 0 || lifetimeSeconds > 0xffffffff) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `PCP lifetime must be whole seconds in 0..2^32-1, got ${lifetimeSeconds}`);
  }
  b[0] = PCP_VERSION;
  b[1] = opcode;
  b.writeUInt32BE(lifetimeSeconds, 4);
  writeMappedIPv4(b, 8, requireIPv4(clientAddress, 'PCP client address'));
}

export function encodeAnnounceRequest(clientAddress: string): Buffer {
  const b = Buffer.alloc(HEADER);
  writeHeader(b, OP_ANNOUNCE, 0, clientAddress);
  return b;
}

export function encodeMapRequest(req: PcpMapRequest): Buffer {
  if (req.nonce.length !== PCP_NONCE_BYTES) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `PCP nonce must be ${PCP_NONCE_BYTES} bytes, got ${req.nonce.length}`);
  }
  for (const [port, what, zeroOk] of [
    [req.internalPort, 'internal port', false],
    [req.suggestedExternalPort, 'suggested external port', true],
  ] as const) {
    if (!Number.isInteger(port) || port < (zeroOk ? 0 : 1) || port > 65535) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `PCP ${what} must be in ${zeroOk ? 0 : 1}..65535, got ${port}`);
    }
  }
  const b = Buffer.alloc(HEADER + MAP_BODY);
  writeHeader(b, OP_MAP, req.lifetimeSeconds, req.clientAddress);
  b.set(req.nonce, HEADER);
  b[HEADER + 12] = IPPROTO_UDP;
  b.writeUInt16BE(req.internalPort, HEADER + 16);
  b.writeUInt16BE(req.suggestedExternalPort, HEADER + 18);
  writeMappedIPv4(b, HEADER + 20, requireIPv4(req.suggestedExternalAddress ?? '0.0.0.0', 'PCP suggested external address'));
  return b;
}

export interface PcpMapBody {
  nonce: Buffer;
  protocol: number;
  internalPort: number;
  externalPort: number;
  /** Dotted quad; null when the server answered with a non-IPv4-mapped address. */
  externalAddress: string | null;
}

export interface PcpResponse {
  opcode: 'announce' | 'map';
  resultCode: number;
  /** Seconds: how long the mapping (or, for an error, the error) holds. */
  lifetimeSeconds: number;
  epoch: number;
  /** Present for MAP when the body is there (always on success). */
  map: PcpMapBody | null;
}

/**
 * Decodes a PCP response; throws ERR_PORTMAP_MALFORMED for anything that is not
 * one. A NAT-PMP-only server answers a PCP request with a version-0 message:
 * that is reported as ERR_PORTMAP_REFUSED (unsupported version), not malformed.
 */
export function decodePcpResponse(data: Uint8Array): PcpResponse {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length >= 2 && b[0] === 0) {
    throw new BurrowError('ERR_PORTMAP_REFUSED', 'PCP: the server speaks only NAT-PMP (answered with version 0)');
  }
  if (b.length < HEADER) throw malformed(`${b.length} bytes is shorter than the 24-byte header`);
  if (b.length > MAX_MESSAGE || b.length % 4 !== 0) throw malformed(`length ${b.length} is not a multiple of 4 up to ${MAX_MESSAGE}`);
  if (b[0] !== PCP_VERSION) throw malformed(`version ${b[0]} is not 2`);
  if ((u8(b, 1) & RESPONSE_BIT) === 0) throw malformed('a request, not a response (R bit clear)');
  const op = u8(b, 1) & 0x7f;
  const resultCode = u8(b, 3);
  const lifetimeSeconds = b.readUInt32BE(4);
  const epoch = b.readUInt32BE(8);
  if (op === OP_ANNOUNCE) return { opcode: 'announce', resultCode, lifetimeSeconds, epoch, map: null };
  if (op !== OP_MAP) throw malformed(`opcode ${op} is not one we send`);
  if (b.length < HEADER + MAP_BODY) {
    if (resultCode !== PcpResult.Success) return { opcode: 'map', resultCode, lifetimeSeconds, epoch, map: null };
    throw malformed(`successful MAP response of ${b.length} bytes lacks its 36-byte body`);
  }
  const o = HEADER;
  const mapped = b.subarray(o + 20, o + 30).every((x) => x === 0) && b[o + 30] === 0xff && b[o + 31] === 0xff;
  const map: PcpMapBody = {
    nonce: Buffer.from(b.subarray(o, o + PCP_NONCE_BYTES)),
    protocol: u8(b, o + 12),
    internalPort: b.readUInt16BE(o + 16),
    externalPort: b.readUInt16BE(o + 18),
    externalAddress: mapped ? formatIPv4(b, o + 32) : null,
  };
  if (resultCode === PcpResult.Success && (map.internalPort === 0 || (map.externalPort === 0 && lifetimeSeconds !== 0))) {
    throw malformed('successful MAP response with port 0');
  }
  return { opcode: 'map', resultCode, lifetimeSeconds, epoch, map };
}

/** Whether `resp` answers the MAP request we sent with `nonce` for `internalPort` (RFC 6887 section 11.3). */
export function pcpResponseMatches(resp: PcpResponse, nonce: Uint8Array, internalPort: number): boolean {
  if (resp.opcode !== 'map' || resp.map === null) return false;
  return resp.map.protocol === IPPROTO_UDP && resp.map.internalPort === internalPort && Buffer.from(nonce).equals(resp.map.nonce);
}

function malformed(why: string): BurrowError {
  return new BurrowError('ERR_PORTMAP_MALFORMED', `PCP: ${why}`);
}

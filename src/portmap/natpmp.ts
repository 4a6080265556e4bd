/**
 * NAT-PMP (RFC 6886) messages, sans-I/O: encode requests, decode responses.
 * Everything is big-endian; lifetimes are in seconds, the epoch is seconds
 * since the gateway's mapping table was (re)started.
 *
 *   external address request   0 | 0                                     2 bytes
 *   its response               0 | 128 | result u16 | epoch u32 | addr   12 bytes
 *   map request                0 | 1 (UDP) | 0 u16 | internal u16 | suggested external u16 | lifetime u32   12 bytes
 *   its response               0 | 129 | result u16 | epoch u32 | internal u16 | external u16 | lifetime u32   16 bytes
 *
 * An error response may stop after its 8-byte header (RFC 6886 section 3.5).
 */
import { BurrowError } from '../errors.js';
import { u8 } from '../util/bytes.js';
import { formatIPv4 } from './ipv4.js';

export const NATPMP_PORT = 5351;
export const NATPMP_VERSION = 0;
const OP_EXTERNAL_ADDRESS = 0;
const OP_MAP_UDP = 1;
const RESPONSE_BIT = 128;

export const NatPmpResult = {
  Success: 0,
  UnsupportedVersion: 1,
  NotAuthorized: 2,
  NetworkFailure: 3,
  OutOfResources: 4,
  UnsupportedOpcode: 5,
} as const;

const RESULT_NAMES: Record<number, string> = {
  0: 'success',
  1: 'unsupported version',
  2: 'not authorized or refused',
  3: 'network failure (the gateway has no external address yet)',
  4: 'out of resources',
  5: 'unsupported opcode',
};

export function natPmpResultName(code: number): string {
  return RESULT_NAMES[code] ?? `unknown result code ${code}`;
}

export function encodeExternalAddressRequest(): Buffer {
  return Buffer.from([NATPMP_VERSION, OP_EXTERNAL_ADDRESS]);
}

export interface NatPmpMapRequest {
  internalPort: number;
  /** 0 = let the gateway choose. */
  suggestedExternalPort: number;
  /** Seconds; 0 deletes the mapping. */
  lifetimeSeconds: number;
}

export function encodeMapRequest(req: NatPmpMapRequest): Buffer {
  checkPort(req.internalPort, 'internal port', false);
  checkPort(req.suggestedExternalPort, 'suggested external port', true);
  if (!Number.isInteger(req.lifetimeSeconds) || req.lifetimeSeconds < 0 || req.lifetimeSeconds > 0xffffffff) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `NAT-PMP lifetime must be whole seconds in 0..2^32-1, got ${req.lifetimeSeconds}`);
  }
  const b = Buffer.alloc(12);
  b[0] = NATPMP_VERSION;
  b[1] = OP_MAP_UDP;
  b.writeUInt16BE(req.internalPort, 4);
  b.writeUInt16BE(req.suggestedExternalPort, 6);
  b.writeUInt32BE(req.lifetimeSeconds, 8);
  return b;
}

export type NatPmpResponse =
  | { kind: 'external-address'; resultCode: number; epoch: number; externalAddress: string | null }
  | {
      kind: 'map';
      resultCode: number;
      epoch: number;
      /** null in an error response that stopped after its header. */
      internalPort: number | null;
      externalPort: number | null;
      lifetimeSeconds: number | null;
    };

/** Decodes a response; throws ERR_PORTMAP_MALFORMED for anything that is not a NAT-PMP response we asked for. */
export function decodeNatPmpResponse(data: Uint8Array): NatPmpResponse {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 8) throw malformed(`${b.length} bytes is shorter than the 8-byte header`);
  if (b[0] !== NATPMP_VERSION) throw malformed(`version ${b[0]} is not NAT-PMP's 0`);
  const op = u8(b, 1);
  const resultCode = b.readUInt16BE(2);
  const epoch = b.readUInt32BE(4);
  const ok = resultCode === NatPmpResult.Success;
  if (op === RESPONSE_BIT + OP_EXTERNAL_ADDRESS) {
    if (ok ? b.length !== 12 : b.length !== 8 && b.length !== 12) throw malformed(`external address response of ${b.length} bytes`);
    return { kind: 'external-address', resultCode, epoch, externalAddress: b.length === 12 ? formatIPv4(b, 8) : null };
  }
  if (op === RESPONSE_BIT + OP_MAP_UDP) {
    if (ok ? b.length !== 16 : b.length !== 8 && b.length !== 16) throw malformed(`map response of ${b.length} bytes`);
    const full = b.length === 16;
    const resp: NatPmpResponse = {
      kind: 'map',
      resultCode,
      epoch,
      internalPort: full ? b.readUInt16BE(8) : null,
      externalPort: full ? b.readUInt16BE(10) : null,
      lifetimeSeconds: full ? b.readUInt32BE(12) : null,
    };
    // External port 0 is how a deletion (lifetime 0) is confirmed; otherwise a success names both ports.
    if (ok && (resp.internalPort === 0 || (resp.externalPort === 0 && resp.lifetimeSeconds !== 0))) {
      throw malformed('successful map response with port 0');
    }
    return resp;
  }
  throw malformed(`opcode ${op} is not a response to a request we send`);
}

function checkPort(port: number, what: string, zeroOk: boolean): void {
  if (!Number.isInteger(port) || port < (zeroOk ? 0 : 1) || port > 65535) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `NAT-PMP ${what} must be in ${zeroOk ? 0 : 1}..65535, got ${port}`);
  }
}

function malformed(why: string): BurrowError {
  return new BurrowError('ERR_PORTMAP_MALFORMED', `NAT-PMP: ${why}`);
}

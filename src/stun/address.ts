/**
 * Address attribute values (RFC 8489 sections 14.1 and 14.2): MAPPED-ADDRESS
 * and its relatives (RFC 3489 SOURCE-/CHANGED-ADDRESS, RFC 5780
 * RESPONSE-ORIGIN / OTHER-ADDRESS) share one layout; XOR-MAPPED-ADDRESS XORs
 * port and address with the cookie and transaction id, so middleboxes that
 * rewrite addresses they find in payloads leave it alone.
 */
import type { UdpEndpoint } from '../net/udp-socket.js';
import { bytesToIp, ipToBytes } from '../net/ip.js';
import { readU16BE, u8 } from '../util/bytes.js';

const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;

/** Value bytes of a plain address attribute; null when the address is not an IP literal. */
export function encodeAddressValue(ep: UdpEndpoint): Uint8Array | null {
  const ip = ipToBytes(ep.address);
  if (ip === null || !validPort(ep.port)) return null;
  const v = new Uint8Array(4 + ip.length);
  v[1] = ip.length === 4 ? FAMILY_IPV4 : FAMILY_IPV6;
  v[2] = ep.port >> 8;
  v[3] = ep.port & 0xff;
  v.set(ip, 4);
  return v;
}

/** Value bytes of XOR-MAPPED-ADDRESS for a message whose header bytes 4..19 are `id`. */
export function encodeXorAddressValue(ep: UdpEndpoint, id: Uint8Array): Uint8Array | null {
  const v = encodeAddressValue(ep);
  if (v === null) return null;
  xorInPlace(v, id);
  return v;
}

/** Reads a plain address value; null when malformed (wrong length or family). */
export function decodeAddressValue(value: Uint8Array): UdpEndpoint | null {
  if (value.length < 8) return null;
  const family = value[1];
  const want = family === FAMILY_IPV4 ? 8 : family === FAMILY_IPV6 ? 20 : -1;
  if (value.length !== want) return null;
  return { address: bytesToIp(value.subarray(4)), port: readU16BE(value, 2) };
}

export function decodeXorAddressValue(value: Uint8Array, id: Uint8Array): UdpEndpoint | null {
  if (value.length !== 8 && value.length !== 20) return null;
  const v = Uint8Array.from(value);
  xorInPlace(v, id);
  return decodeAddressValue(v);
}

/** Size of the value for this endpoint's family: 8 (IPv4) or 20 (IPv6); null when not an IP literal. */
export function addressValueSize(ep: UdpEndpoint): number | null {
  const ip = ipToBytes(ep.address);
  return ip === null ? null : 4 + ip.length;
}

/** Port XOR the cookie's top 16 bits; address XOR cookie (IPv4) or cookie + transaction id (IPv6). */
function xorInPlace(v: Uint8Array, id: Uint8Array): void {
  v[2] = u8(v, 2) ^ u8(id, 0);
  v[3] = u8(v, 3) ^ u8(id, 1);
  for (let i = 4; i < v.length; i++) v[i] = u8(v, i) ^ u8(id, i - 4);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

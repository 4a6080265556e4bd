/**
 * IPv4/UDP packets as they travel over virtual links: a 20-byte IPv4 header
 * and an 8-byte UDP header in front of the payload, so a link's `mtu`
 * compares against the real on-the-wire size (payload + 28).
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';

export const HEADER_BYTES = 28;
/** Largest UDP payload in an IPv4 datagram. */
export const MAX_PAYLOAD = 65_535 - HEADER_BYTES;
export const DEFAULT_TTL = 64;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(address: string): boolean {
  return IPV4.test(address);
}

/** Dotted quad to an unsigned 32-bit number. Throws on anything else. */
export function ipToInt(address: string): number {
  if (!isIpv4(address)) throw new Error(`not an IPv4 address: ${address}`);
  const p = address.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** "a.b.c.d/len" (or a bare address = /32) to a network and prefix length. */
export function parseCidr(cidr: string): { net: number; len: number } {
  const [addr, lenText] = cidr.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`bad prefix length in ${cidr}`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { net: (ipToInt(addr ?? '') & mask) >>> 0, len };
}

export function inCidr(address: number, net: number, len: number): boolean {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((address & mask) >>> 0) === net;
}

export function endpointKey(e: UdpEndpoint): string {
  return `${e.address}:${e.port}`;
}

/** A parsed view of a packet's headers (the payload stays in the buffer). */
export interface PacketHeader {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  ttl: number;
  payloadLength: number;
}

export function encodePacket(
  src: UdpEndpoint,
  dst: UdpEndpoint,
  ttl: number,
  id: number,
  payload: Uint8Array,
): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  b[0] = 0x45;
  b[1] = 0;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(0, 6);
  b[8] = ttl;
  b[9] = 17;
  b.writeUInt16BE(0, 10);
  b.writeUInt32BE(ipToInt(src.address), 12);
  b.writeUInt32BE(ipToInt(dst.address), 16);
  b.writeUInt16BE(src.port, 20);
  b.writeUInt16BE(dst.port, 22);
  b.writeUInt16BE(8 + payload.length, 24);
  b.writeUInt16BE(0, 26);
  b.set(payload, HEADER_BYTES);
  return b;
}

export function decodeHeader(b: Buffer): PacketHeader {
  return {
    src: intToIp(b.readUInt32BE(12)),
    srcPort: b.readUInt16BE(20),
    dst: intToIp(b.readUInt32BE(16)),
    dstPort: b.readUInt16BE(22),
    ttl: b.readUInt8(8),
    payloadLength: b.length - HEADER_BYTES,
  };
}

export function rewriteSource(b: Buffer, address: string, port: number): void {
  b.writeUInt32BE(ipToInt(address), 12);
  b.writeUInt16BE(port, 20);
}

export function rewriteDestination(b: Buffer, address: string, port: number): void {
  b.writeUInt32BE(ipToInt(address), 16);
  b.writeUInt16BE(port, 22);
}

export function setTtlByte(b: Buffer, ttl: number): void {
  b[8] = ttl;
}

export function payloadOf(b: Buffer): Buffer {
  return b.subarray(HEADER_BYTES);
}

/** FNV-1a 32 over `data` (trace fingerprints, not security). */
export function fnv1a(data: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const byte of data) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function fnv1aString(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= text.charCodeAt(i) >>> 8;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * UDP packets as they travel over virtual links: a 20-byte IPv4 header (or a
 * 40-byte IPv6 one) and an 8-byte UDP header in front of the payload, so a
 * link's `mtu` compares against the real on-the-wire size (payload + 28, or
 * payload + 48). The IP version nibble of the first byte says which.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { bytesToIp } from '../../src/net/ip.js';
import { ip6ToBytes, isIpv6 } from './ip6.js';

export const HEADER_BYTES = 28;
/** IPv6 (40) + UDP (8). */
export const HEADER_BYTES_V6 = 48;
/** Largest UDP payload in an IPv4 datagram. */
export const MAX_PAYLOAD = 65_535 - HEADER_BYTES;
/** Largest UDP payload in an IPv6 datagram without a jumbo payload option (the payload length counts the UDP header). */
export const MAX_PAYLOAD_V6 = 65_535 - 8;
/** TTL, and the hop limit of IPv6 datagrams. */
export const DEFAULT_TTL = 64;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(address: string): boolean {
  return IPV4.test(address);
}

/** 4, 6, or 0 for anything else. */
export function familyOf(address: string): 4 | 6 | 0 {
  if (isIpv4(address)) return 4;
  return isIpv6(address) ? 6 : 0;
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
  family: 4 | 6;
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
  if (dst.address.includes(':')) return encodePacket6(src, dst, ttl, payload);
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

/** An IPv6 packet: version 6, no extension headers, next header UDP; `ttl` is the hop limit. */
function encodePacket6(src: UdpEndpoint, dst: UdpEndpoint, ttl: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES_V6 + payload.length);
  b.writeUInt32BE(0x60000000, 0);
  b.writeUInt16BE(8 + payload.length, 4);
  b[6] = 17;
  b[7] = ttl;
  b.set(ip6ToBytes(src.address), 8);
  b.set(ip6ToBytes(dst.address), 24);
  b.writeUInt16BE(src.port, 40);
  b.writeUInt16BE(dst.port, 42);
  b.writeUInt16BE(8 + payload.length, 44);
  b.writeUInt16BE(0, 46);
  b.set(payload, HEADER_BYTES_V6);
  return b;
}

function isV6Packet(b: Buffer): boolean {
  return (b.readUInt8(0) & 0xf0) === 0x60;
}

export function decodeHeader(b: Buffer): PacketHeader {
  if (isV6Packet(b)) {
    return {
      family: 6,
      src: bytesToIp(b.subarray(8, 24)),
      srcPort: b.readUInt16BE(40),
      dst: bytesToIp(b.subarray(24, 40)),
      dstPort: b.readUInt16BE(42),
      ttl: b.readUInt8(7),
      payloadLength: b.length - HEADER_BYTES_V6,
    };
  }
  return {
    family: 4,
    src: intToIp(b.readUInt32BE(12)),
    srcPort: b.readUInt16BE(20),
    dst: intToIp(b.readUInt32BE(16)),
    dstPort: b.readUInt16BE(22),
    ttl: b.readUInt8(8),
    payloadLength: b.length - HEADER_BYTES,
  };
}

/** IPv4 only: the one translator (VirtualNat) does not touch IPv6 (no NAT66). */
export function rewriteSource(b: Buffer, address: string, port: number): void {
  b.writeUInt32BE(ipToInt(address), 12);
  b.writeUInt16BE(port, 20);
}

export function rewriteDestination(b: Buffer, address: string, port: number): void {
  b.writeUInt32BE(ipToInt(address), 16);
  b.writeUInt16BE(port, 22);
}

/** Sets the TTL (IPv4) or hop limit (IPv6). */
export function setTtlByte(b: Buffer, ttl: number): void {
  b[isV6Packet(b) ? 7 : 8] = ttl;
}

export function payloadOf(b: Buffer): Buffer {
  return b.subarray(isV6Packet(b) ? HEADER_BYTES_V6 : HEADER_BYTES);
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

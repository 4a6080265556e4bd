/**
 * IPv6 addresses for the in-process lane: text <-> 128-bit numbers, prefixes,
 * and the one text form every node compares (RFC 5952, as node:dgram reports
 * a peer). IPv4-mapped addresses (`::ffff:a.b.c.d`) are not a host's address
 * here: virtual sockets bound to `::` are IPv6-only (see socket.ts).
 */
import { isIPv6 } from 'node:net';
import { bytesToIp, ipToBytes } from '../../src/net/ip.js';

/** An IPv6 literal (no zone id). */
export function isIpv6(address: string): boolean {
  return !address.includes('%') && isIPv6(address);
}

/** `::ffff:a.b.c.d` in any spelling (an IPv4 host seen through a dual-stack socket). */
export function isV4Mapped(address: string): boolean {
  return isIpv6(address) && (ipToBytes(address)?.length ?? 0) === 4;
}

/** Sixteen bytes in network order. Throws on anything but an IPv6 literal. */
export function ip6ToBytes(address: string): Uint8Array {
  const b = isIpv6(address) ? ipToBytes(address) : null;
  if (b === null) throw new Error(`not an IPv6 address: ${address}`);
  if (b.length === 16) return b;
  // ipToBytes folds ::ffff:a.b.c.d to the IPv4 bytes; put the prefix back.
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(b, 12);
  return out;
}

export function ip6ToBigInt(address: string): bigint {
  let n = 0n;
  for (const byte of ip6ToBytes(address)) n = (n << 8n) | BigInt(byte);
  return n;
}

/** RFC 5952 text (lower case, longest zero run as `::`). */
export function canonicalIp6(address: string): string {
  return bytesToIp(ip6ToBytes(address));
}

/** A host's address as nodes compare it: IPv4 as given, IPv6 in RFC 5952 form. */
export function canonicalIp(address: string): string {
  return isIpv6(address) ? canonicalIp6(address) : address;
}

/** "2001:db8::/64" (or a bare address = /128) to a network and prefix length. */
export function parseCidr6(cidr: string): { net: bigint; len: number } {
  const [addr, lenText] = cidr.split('/');
  const len = lenText === undefined ? 128 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 128) throw new Error(`bad prefix length in ${cidr}`);
  return { net: ip6ToBigInt(addr ?? '') & mask6(len), len };
}

export function inCidr6(address: bigint, net: bigint, len: number): boolean {
  return (address & mask6(len)) === net;
}

const ALL = (1n << 128n) - 1n;

function mask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

/** "a.b.c.d:port" or "[v6]:port": trace and key text of an endpoint. */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

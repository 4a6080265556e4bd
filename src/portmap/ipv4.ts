/**
 * IPv4 text <-> bytes, and the check every mapped external address must pass
 * before it is worth advertising. NAT-PMP, PCP and UPnP all report the
 * router's WAN address; when that address is private or carrier-grade shared
 * space, another NAT sits above the router and the "mapping" reaches nobody
 * on the internet (tailscale #5236: NAT-PMP answering with 100.64/10).
 */
import { BurrowError } from '../errors.js';
import { readU32BE } from '../util/bytes.js';

/** Four bytes of a dotted quad, or null when `text` is not one (no leading zeros, each 0..255). */
export function parseIPv4(text: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (const [i, part] of m.slice(1, 5).entries()) {
    if (part.length > 1 && part.startsWith('0')) return null;
    const n = Number(part);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function requireIPv4(text: string, what: string): Uint8Array {
  const b = parseIPv4(text);
  if (b === null) throw new BurrowError('ERR_INVALID_ARGUMENT', `${what} must be an IPv4 address, got ${JSON.stringify(text)}`);
  return b;
}

export type ExternalAddressVerdict =
  | { ok: true }
  /** `behind-nat`: private or shared space; `no-address`: the router does not know its own. */
  | { ok: false; kind: 'behind-nat' | 'no-address'; reason: string };

const UNUSABLE: ReadonlyArray<{ net: [number, number, number, number]; bits: number; what: string }> = [
  { net: [0, 0, 0, 0], bits: 8, what: 'unspecified (0.0.0.0/8)' },
  { net: [127, 0, 0, 0], bits: 8, what: 'loopback (127/8)' },
  { net: [10, 0, 0, 0], bits: 8, what: 'private (10/8)' },
  { net: [172, 16, 0, 0], bits: 12, what: 'private (172.16/12)' },
  { net: [192, 168, 0, 0], bits: 16, what: 'private (192.168/16)' },
  { net: [100, 64, 0, 0], bits: 10, what: 'shared carrier-grade NAT space (100.64/10)' },
  { net: [169, 254, 0, 0], bits: 16, what: 'link-local (169.254/16)' },
  { net: [224, 0, 0, 0], bits: 4, what: 'multicast (224/4)' },
  { net: [240, 0, 0, 0], bits: 4, what: 'reserved (240/4)' },
];

/**
 * Whether a router-reported external address can be advertised to peers.
 * Refused: unspecified, loopback, RFC 1918 private, RFC 6598 shared, link-local,
 * multicast and reserved space — each means the router is not on the public
 * internet, so a mapping on it is not reachable from there.
 */
export function checkExternalAddress(text: string): ExternalAddressVerdict {
  const b = parseIPv4(text);
  if (b === null) return { ok: false, kind: 'no-address', reason: `the router reported ${JSON.stringify(text)}, not an IPv4 address` };
  const value = readU32BE(b, 0);
  for (const u of UNUSABLE) {
    const net = ((u.net[0] << 24) >>> 0) + (u.net[1] << 16) + (u.net[2] << 8) + u.net[3];
    const mask = u.bits === 0 ? 0 : (0xffffffff << (32 - u.bits)) >>> 0;
    if (((value & mask) >>> 0) === net) {
      const unknown = u.what.startsWith('unspecified') || u.what.startsWith('loopback');
      const why = unknown ? 'the router does not know its external address' : 'another NAT sits above the router';
      return {
        ok: false,
        kind: unknown ? 'no-address' : 'behind-nat',
        reason: `external address ${text} is ${u.what}: ${why}: the mapping is not advertised`,
      };
    }
  }
  return { ok: true };
}

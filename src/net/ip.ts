/**
 * IP address text <-> bytes, for every codec that puts an address on the wire
 * (STUN address attributes, punch probes) and for comparing endpoints. Small
 * and strict: IPv4 dotted quads, IPv6 text (with `::` and an embedded dotted
 * quad), and IPv4-mapped IPv6 (`::ffff:a.b.c.d` as a dual-stack socket
 * reports an IPv4 peer, or the same in hex groups) treated as the IPv4
 * address it stands for: on the wire and in comparisons they are one host.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { at } from '../util/at.js';
import { readU16BE } from '../util/bytes.js';

/** Four or sixteen bytes in network order, or null when `text` is not an IP literal. */
export function ipToBytes(text: string): Uint8Array | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped) return ipv4ToBytes(at(mapped, 1));
  if (isIPv4(text)) return ipv4ToBytes(text);
  if (isIPv6(text)) {
    const v6 = ipv6ToBytes(text);
    return v6 !== null && isV4Mapped(v6) ? v6.slice(12) : v6;
  }
  return null;
}

/** ::ffff:0:0/96 (RFC 4291 section 2.5.5.2). */
function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function ipv4ToBytes(text: string): Uint8Array | null {
  if (!isIPv4(text)) return null;
  return Uint8Array.from(text.split('.').map(Number));
}

function ipv6ToBytes(text: string): Uint8Array | null {
  // Zone ids (fe80::1%eth0) have no place in an address attribute.
  if (text.includes('%')) return null;
  let head = text;
  let tail4: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4ToBytes(at(dotted, 2));
    if (v4 === null) return null;
    tail4 = [...v4];
    const lead = at(dotted, 1);
    head = lead.endsWith('::') ? lead : lead.slice(0, -1);
  }
  const groupsWanted = 8 - tail4.length / 2;
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(at(halves, 0));
  const right = halves.length === 2 ? parse(at(halves, 1)) : [];
  const fill = groupsWanted - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  const groups = [...left, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  out.set(tail4, 12);
  return out;
}

/** Text form of 4 or 16 bytes (RFC 5952 for IPv6: lower case, longest zero run as `::`). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(readU16BE(bytes, i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The family an address belongs to once normalised (IPv4-mapped IPv6 counts as 4); 0 when it is not an IP literal. */
export function addressFamily(text: string): 4 | 6 | 0 {
  const b = ipToBytes(text);
  return b === null ? 0 : b.length === 4 ? 4 : 6;
}

/** Both addresses are of one family and share their first `bits` bits (e.g. 24 for an IPv4 /24, 64 for an IPv6 /64). */
export function samePrefix(a: string, b: string, bits: number): boolean {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  if (x === null || y === null || x.length !== y.length || bits > x.length * 8) return false;
  const whole = Math.floor(bits / 8);
  for (let i = 0; i < whole; i++) if (x[i] !== y[i]) return false;
  const rest = bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((x[whole] ?? 0) & mask) === ((y[whole] ?? 0) & mask);
}

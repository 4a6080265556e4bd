/**
 * Which of the host's IPv6 addresses are worth offering to a peer, pure (the
 * interface list comes in, a selection goes out), so the report and, later,
 * the session's IPv6 host candidates pick the same ones:
 * - never link-local (fe80::/10: needs a zone, never reaches another network),
 *   loopback, multicast, IPv4-mapped or anything outside the two kinds below;
 * - global unicast (2000::/3) first; unique-local (fc00::/7) listed as such
 *   and counted as usable only when no global address exists;
 * - at most a couple per /64: privacy extensions add a temporary address
 *   every day or so, and each one would be a useless extra candidate.
 */
import { ipToBytes } from '../net/ip.js';
import { normaliseAddress } from '../net/endpoint.js';

/** One row of the interface list (the shape of os.networkInterfaces()'s entries plus the interface name). */
export interface InterfaceAddress {
  interface: string;
  address: string;
  family: string | number;
  internal: boolean;
}

export type Ipv6Kind = 'global' | 'unique-local' | 'link-local' | 'loopback' | 'multicast' | 'unspecified' | 'ipv4-mapped' | 'other';

export interface HostIpv6Address {
  address: string;
  interface: string;
  kind: 'global' | 'unique-local';
}

export interface Ipv6Selection {
  /** Global unicast addresses kept, in interface order. */
  global: HostIpv6Address[];
  /** Unique-local addresses kept. */
  uniqueLocal: HostIpv6Address[];
  /** What a peer could try: the global ones, or the unique-local ones when there is no global one. */
  usable: HostIpv6Address[];
  /** Global or unique-local addresses left out by the per-/64 or total bound. */
  leftOut: number;
}

/** Addresses kept per /64 prefix. */
export const MAX_IPV6_PER_PREFIX = 2;
/** Addresses kept per kind in all. */
export const MAX_IPV6_ADDRESSES = 8;

/** What kind of IPv6 address `text` is; null when it is not an IPv6 literal. */
export function ipv6Kind(text: string): Ipv6Kind | null {
  const bare = text.split('%')[0] ?? '';
  if (!bare.includes(':')) return null;
  if (/^::ffff:/i.test(bare)) return ipToBytes(bare) === null ? null : 'ipv4-mapped';
  const b = ipToBytes(bare);
  if (b === null || b.length !== 16) return null;
  const b0 = b[0] ?? 0;
  const b1 = b[1] ?? 0;
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (b0 === 0xff) return 'multicast';
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return 'link-local';
  if ((b0 & 0xfe) === 0xfc) return 'unique-local';
  if ((b0 & 0xe0) === 0x20) return 'global';
  return 'other';
}

/** The /64 an address belongs to, as a map key. */
function prefix64(address: string): string {
  const b = ipToBytes(address);
  return b === null ? address : Buffer.from(b.subarray(0, 8)).toString('hex');
}

export function selectIpv6Addresses(
  list: readonly InterfaceAddress[],
  opts: { perPrefix?: number; max?: number } = {},
): Ipv6Selection {
  const perPrefix = opts.perPrefix ?? MAX_IPV6_PER_PREFIX;
  const max = opts.max ?? MAX_IPV6_ADDRESSES;
  const out: Ipv6Selection = { global: [], uniqueLocal: [], usable: [], leftOut: 0 };
  const seen = new Set<string>();
  const perNet = new Map<string, number>();
  for (const row of list) {
    if (row.internal || !(row.family === 'IPv6' || row.family === 6)) continue;
    const kind = ipv6Kind(row.address);
    if (kind !== 'global' && kind !== 'unique-local') continue;
    const address = normaliseAddress(row.address.split('%')[0] ?? row.address);
    if (seen.has(address)) continue;
    seen.add(address);
    const net = prefix64(address);
    const n = perNet.get(net) ?? 0;
    const bucket = kind === 'global' ? out.global : out.uniqueLocal;
    if (n >= perPrefix || bucket.length >= max) {
      out.leftOut++;
      continue;
    }
    perNet.set(net, n + 1);
    bucket.push({ address, interface: row.interface, kind });
  }
  out.usable = out.global.length > 0 ? [...out.global] : [...out.uniqueLocal];
  return out;
}

/** os.networkInterfaces() as a flat list. */
export function flattenInterfaces(
  ifaces: NodeJS.Dict<ReadonlyArray<{ address: string; family: string | number; internal: boolean }>>,
): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) out.push({ interface: name, address: a.address, family: a.family, internal: a.internal });
  }
  return out;
}

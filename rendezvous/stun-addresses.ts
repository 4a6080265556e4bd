/**
 * Which of the host's addresses get STUN sockets of their own next to a
 * wildcard one, pure (the interface list comes in, a choice goes out).
 *
 * Why: a socket bound to 0.0.0.0 or :: answers from whatever source address
 * the kernel picks for the client, not the address the client asked. On a
 * host with two addresses of a family (an IPv6 SLAAC address plus a static
 * one, an IPv4 alias) the client's firewall or NAT then drops the answer: its
 * pinhole is for the address it sent to. Node has no IP_PKTINFO /
 * IPV6_PKTINFO to choose the source per datagram, so each address gets its
 * own sockets and Linux delivers a datagram to the most specific one.
 *
 * Kept: addresses another host could send to — IPv6 global unicast (first)
 * and unique-local, IPv4 addresses but link-local (169.254/16); never the
 * loopback interface's (`internal`). Left to the wildcard: loopback and
 * link-local (the kernel answers those from the address asked anyway). At most MAX_STUN_ADDRESSES per
 * family, so the socket count stays bounded; the rest are returned as left out.
 */
import { normaliseAddress } from '../src/net/endpoint.js';
import { ipToBytes } from '../src/net/ip.js';
import { ipv6Kind, type InterfaceAddress } from '../src/nat/ipv6-addresses.js';

/** Addresses per family that get their own sockets (two each: the port and port+1). */
export const MAX_STUN_ADDRESSES = 16;

export interface StunAddressChoice {
  /** Addresses to bind, in preference order. */
  addresses: string[];
  /** Addresses of the family past the cap (answered from the wildcard socket). */
  leftOut: string[];
}

export function stunAddresses(rows: readonly InterfaceAddress[], family: 4 | 6, max: number = MAX_STUN_ADDRESSES): StunAddressChoice {
  const preferred: string[] = [];
  const later: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (row.internal || !isFamily(row.family, family)) continue;
    const bare = row.address.split('%')[0] ?? row.address;
    const rank = family === 6 ? rank6(bare) : rank4(bare);
    if (rank === null) continue;
    const address = normaliseAddress(bare);
    if (seen.has(address)) continue;
    seen.add(address);
    (rank === 0 ? preferred : later).push(address);
  }
  const all = [...preferred, ...later];
  return { addresses: all.slice(0, max), leftOut: all.slice(max) };
}

function isFamily(f: string | number, want: 4 | 6): boolean {
  return f === want || f === `IPv${want}`;
}

/** 0 = global, 1 = unique-local, null = not bound on its own. */
function rank6(address: string): 0 | 1 | null {
  const kind = ipv6Kind(address);
  return kind === 'global' ? 0 : kind === 'unique-local' ? 1 : null;
}

/** 0 = bound on its own, null = link-local, unspecified, multicast or not IPv4 (loopback rows are `internal`). */
function rank4(address: string): 0 | null {
  const b = ipToBytes(address);
  if (b === null || b.length !== 4 || address.includes(':')) return null;
  const [a0, a1] = [b[0] ?? 0, b[1] ?? 0];
  if (a0 === 0 || (a0 === 169 && a1 === 254) || a0 >= 224) return null;
  return 0;
}

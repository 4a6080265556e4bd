/**
 * Binds the rendezvous's UDP sockets in RFC 5780's layout on the real
 * network: (primary, port), (primary, port+1), and with a second address
 * (alt, port), (alt, port+1). Closes whatever it bound if any bind fails.
 *
 * For `::` (bindStunFamilies) that layout is bound once per family: IPv6-only
 * udp6 sockets plus udp4 ones on the same ports, so an IPv4 client is answered
 * from an IPv4 socket with its plain IPv4 address (a dual-stack socket would
 * see it as `::ffff:a.b.c.d`).
 *
 * A wildcard layout also gets its slots bound on each of the host's
 * addresses of that family (stun-addresses.ts picks them, up to a cap), so
 * an answer leaves from the address it was asked on. Those share the ports
 * with the wildcard sockets through SO_REUSEADDR, which Linux allows only
 * when all of them set it; a plain bind of each port first proves no other
 * socket holds it. A per-address bind that fails is reported, not fatal:
 * the wildcard still answers that address, from the kernel's source choice.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { BurrowError } from '../src/errors.js';
import { flattenInterfaces, type InterfaceAddress } from '../src/nat/ipv6-addresses.js';
import { bindUdpSocket, type BindUdpSocketOptions } from '../src/net/bind.js';
import type { UdpSocket } from '../src/net/udp-socket.js';
import { MAX_STUN_ADDRESSES, stunAddresses } from './stun-addresses.js';
import type { StunLayout, StunSlot } from './stun-responder.js';
import type { AddressSockets } from './udp-service.js';

export interface StunSocketsOptions {
  /** IP literal to bind; a wildcard works without altAddress. */
  host: string;
  /** 0 = a free port P such that P+1 is free too. */
  port: number;
  /** Second local address for change-IP answers (RFC 5780); needs a concrete `host`. */
  altAddress?: string | null;
  /** The host's interface addresses, read for a wildcard `host` (tests inject them). Default: os.networkInterfaces(). */
  interfaces?: () => readonly InterfaceAddress[];
}

export interface BoundStunSockets {
  layout: StunLayout;
  sockets: Partial<Record<StunSlot, UdpSocket>>;
  /** A wildcard layout's slots bound again on each chosen local address of its family. */
  perAddress?: AddressSockets[];
  /** Addresses of the family without sockets of their own (over the cap, or the bind failed), and why. */
  notBound?: { address: string; reason: string }[];
}

/** How sockets are bound (tests inject failures). */
export type UdpBinder = (opts: BindUdpSocketOptions) => Promise<UdpSocket>;

/** STUN traffic is a few small datagrams: no need for the session sockets' 4 MiB buffers. */
const BUFFER = 256 * 1024;
const EPHEMERAL_ATTEMPTS = 8;

export async function bindStunSockets(opts: StunSocketsOptions, bind: UdpBinder = bindUdpSocket): Promise<BoundStunSockets> {
  const alt = opts.altAddress ?? null;
  if (isIP(opts.host) === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', `UDP listen address must be an IP literal, got "${opts.host}"`);
  if (alt !== null) {
    if (isIP(alt) === 0) throw new BurrowError('ERR_INVALID_ARGUMENT', `--alt-address must be an IP literal, got "${alt}"`);
    if (opts.host === '0.0.0.0' || opts.host === '::') {
      throw new BurrowError(
        'ERR_INVALID_ARGUMENT',
        '--alt-address needs --listen on a concrete address (e.g. 198.51.100.2:7000), not a wildcard: STUN answers must say which address they came from',
      );
    }
    if (isIP(alt) !== isIP(opts.host)) throw new BurrowError('ERR_INVALID_ARGUMENT', '--alt-address must be of the same IP family as --listen');
    if (alt === opts.host) throw new BurrowError('ERR_INVALID_ARGUMENT', '--alt-address must differ from the listen address');
  }
  const at = (port: number): Promise<BoundStunSockets> => bindAt(bind, { host: opts.host, port, alt, ipv6Only: false, interfaces: opts.interfaces ?? osInterfaces });
  return opts.port !== 0 ? at(opts.port) : onFreePort(bind, opts.host, false, at);
}

function osInterfaces(): InterfaceAddress[] {
  return flattenInterfaces(networkInterfaces());
}

export interface StunFamilies {
  /** One layout per family (IPv6 first), each with its sockets. */
  families: BoundStunSockets[];
  /** `::` was asked for but this host has no usable IPv6: why (then only IPv4 is bound). */
  ipv6Unavailable: string | null;
}

/** Bind/listen error codes that mean "this host cannot do IPv6", not "the port is taken". */
export const NO_IPV6_CODES: ReadonlySet<string> = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

function isNoIpv6(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  return cause?.code !== undefined && NO_IPV6_CODES.has(cause.code);
}

/**
 * Like bindStunSockets, but `::` means both families: the layout on IPv6-only
 * sockets and again on IPv4 ones, on the same port numbers. Without IPv6 on
 * the host it falls back to IPv4 and says why in `ipv6Unavailable`.
 */
export async function bindStunFamilies(opts: StunSocketsOptions, bind: UdpBinder = bindUdpSocket): Promise<StunFamilies> {
  // With --alt-address bindStunSockets refuses the wildcard with its own clear message.
  if (opts.host !== '::' || (opts.altAddress ?? null) !== null) return { families: [await bindStunSockets(opts, bind)], ipv6Unavailable: null };
  const interfaces = opts.interfaces ?? osInterfaces;
  const both = async (port: number): Promise<BoundStunSockets[]> => {
    const v6 = await bindAt(bind, { host: '::', port, alt: null, ipv6Only: true, interfaces });
    try {
      return [v6, await bindAt(bind, { host: '0.0.0.0', port, alt: null, ipv6Only: false, interfaces })];
    } catch (err) {
      closeBound(v6);
      throw err;
    }
  };
  try {
    const families = opts.port !== 0 ? await both(opts.port) : await onFreePort(bind, '::', true, both);
    return { families, ipv6Unavailable: null };
  } catch (err) {
    if (!isNoIpv6(err)) throw err;
    const v4 = await bindStunSockets({ ...opts, host: '0.0.0.0' }, bind);
    return { families: [v4], ipv6Unavailable: err instanceof Error ? err.message : String(err) };
  }
}

/** Closes every socket of a bound layout, the per-address ones too. */
export function closeBound(b: BoundStunSockets): void {
  for (const set of [b.sockets, ...(b.perAddress ?? []).map((a) => a.sockets)]) for (const s of Object.values(set)) s.close();
}

/** Runs `bindAll` on a port P the OS says is free (and P+1 exists), a few times over: another process may take it in between. */
async function onFreePort<T>(bind: UdpBinder, host: string, ipv6Only: boolean, bindAll: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < EPHEMERAL_ATTEMPTS; i++) {
    const probe = await bind({ address: host, port: 0, ...(ipv6Only ? { ipv6Only } : {}), recvBufferSize: BUFFER, sendBufferSize: BUFFER });
    const port = probe.localEndpoint().port;
    probe.close();
    if (port === 65535) continue;
    try {
      return await bindAll(port);
    } catch (err) {
      if (isNoIpv6(err)) throw err;
      last = err;
    }
  }
  throw last instanceof Error ? last : new BurrowError('ERR_SOCKET_BIND', 'no free UDP port pair found');
}

interface BindAt {
  host: string;
  port: number;
  alt: string | null;
  ipv6Only: boolean;
  interfaces: () => readonly InterfaceAddress[];
}

async function bindAt(bind: UdpBinder, at: BindAt): Promise<BoundStunSockets> {
  const { host, port, alt, ipv6Only } = at;
  const altPort = port < 65535 ? port + 1 : null;
  const plan: [StunSlot, string, number][] = [['primary', host, port]];
  if (altPort !== null) plan.push(['altPort', host, altPort]);
  if (alt !== null) {
    plan.push(['altAddress', alt, port]);
    if (altPort !== null) plan.push(['altBoth', alt, altPort]);
  }
  const listed = isWildcard(host) ? listInterfaces(at.interfaces) : null;
  const choice = listed === null || 'error' in listed ? null : stunAddresses(listed.rows, isIP(host) === 6 ? 6 : 4);
  const shared = choice !== null && choice.addresses.length > 0;
  const base = { ...(ipv6Only ? { ipv6Only } : {}), recvBufferSize: BUFFER, sendBufferSize: BUFFER };
  const sockets = await bindSet(plan, async (address, p) => {
    if (!shared) return bind({ address, port: p, ...base });
    // Prove the port is ours alone first: the SO_REUSEADDR socket would also share it with a later one.
    (await bind({ address, port: p, ...base })).close();
    return bind({ address, port: p, ...base, reuseAddr: true });
  });
  const bound: BoundStunSockets = { layout: { primary: { address: host, port }, altAddress: alt, altPort }, sockets };
  if (listed !== null && 'error' in listed) bound.notBound = [{ address: 'every address', reason: `the host's addresses could not be listed (${listed.error})` }];
  if (choice === null || !shared) return bound;
  bound.perAddress = [];
  bound.notBound = choice.leftOut.map((address) => ({ address, reason: `more than ${MAX_STUN_ADDRESSES} addresses of this family` }));
  for (const address of choice.addresses) {
    const own = plan.map(([slot, , p]): [StunSlot, string, number] => [slot, address, p]);
    try {
      bound.perAddress.push({ address, sockets: await bindSet(own, (a, p) => bind({ address: a, port: p, ...base, reuseAddr: true })) });
    } catch (err) {
      bound.notBound.push({ address, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return bound;
}

/** Binds every socket of `plan`, or none: closes what it bound if one fails. */
async function bindSet(plan: readonly [StunSlot, string, number][], bindOne: (address: string, port: number) => Promise<UdpSocket>): Promise<Partial<Record<StunSlot, UdpSocket>>> {
  const sockets: Partial<Record<StunSlot, UdpSocket>> = {};
  try {
    for (const [slot, address, p] of plan) sockets[slot] = await bindOne(address, p);
  } catch (err) {
    for (const s of Object.values(sockets)) s.close();
    throw err;
  }
  return sockets;
}

/** The interface list, or why there is none (the OS call can fail in a restricted container: then the wildcard alone answers). */
function listInterfaces(list: () => readonly InterfaceAddress[]): { rows: readonly InterfaceAddress[] } | { error: string } {
  try {
    return { rows: list() };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/**
 * Binds the rendezvous's UDP sockets in RFC 5780's layout on the real
 * network: (primary, port), (primary, port+1), and with a second address
 * (alt, port), (alt, port+1). Closes whatever it bound if any bind fails.
 *
 * For `::` (bindStunFamilies) that layout is bound once per family: IPv6-only
 * udp6 sockets plus udp4 ones on the same ports, so an IPv4 client is answered
 * from an IPv4 socket with its plain IPv4 address (a dual-stack socket would
 * see it as `::ffff:a.b.c.d`).
 */
import { isIP } from 'node:net';
import { BurrowError } from '../src/errors.js';
import { bindUdpSocket, type BindUdpSocketOptions } from '../src/net/bind.js';
import type { UdpSocket } from '../src/net/udp-socket.js';
import type { StunLayout, StunSlot } from './stun-responder.js';

export interface StunSocketsOptions {
  /** IP literal to bind; a wildcard works without altAddress. */
  host: string;
  /** 0 = a free port P such that P+1 is free too. */
  port: number;
  /** Second local address for change-IP answers (RFC 5780); needs a concrete `host`. */
  altAddress?: string | null;
}

export interface BoundStunSockets {
  layout: StunLayout;
  sockets: Partial<Record<StunSlot, UdpSocket>>;
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
  if (opts.port !== 0) return bindAt(bind, opts.host, opts.port, alt, false);
  return onFreePort(bind, opts.host, false, (port) => bindAt(bind, opts.host, port, alt, false));
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
  const both = async (port: number): Promise<BoundStunSockets[]> => {
    const v6 = await bindAt(bind, '::', port, null, true);
    try {
      return [v6, await bindAt(bind, '0.0.0.0', port, null, false)];
    } catch (err) {
      closeAll(v6);
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

function closeAll(b: BoundStunSockets): void {
  for (const s of Object.values(b.sockets)) s.close();
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

async function bindAt(bind: UdpBinder, host: string, port: number, alt: string | null, ipv6Only: boolean): Promise<BoundStunSockets> {
  const altPort = port < 65535 ? port + 1 : null;
  const plan: [StunSlot, string, number][] = [['primary', host, port]];
  if (altPort !== null) plan.push(['altPort', host, altPort]);
  if (alt !== null) {
    plan.push(['altAddress', alt, port]);
    if (altPort !== null) plan.push(['altBoth', alt, altPort]);
  }
  const sockets: Partial<Record<StunSlot, UdpSocket>> = {};
  try {
    for (const [slot, address, p] of plan) {
      sockets[slot] = await bind({ address, port: p, ...(ipv6Only ? { ipv6Only } : {}), recvBufferSize: BUFFER, sendBufferSize: BUFFER });
    }
  } catch (err) {
    for (const s of Object.values(sockets)) s.close();
    throw err;
  }
  return { layout: { primary: { address: host, port }, altPort, altAddress: alt }, sockets };
}

/**
 * Binds the rendezvous's UDP sockets in RFC 5780's layout on the real
 * network: (primary, port), (primary, port+1), and with a second address
 * (alt, port), (alt, port+1). Closes whatever it bound if any bind fails.
 */
import { isIP } from 'node:net';
import { BurrowError } from '../src/errors.js';
import { bindUdpSocket } from '../src/net/bind.js';
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

/** STUN traffic is a few small datagrams: no need for the session sockets' 4 MiB buffers. */
const BUFFER = 256 * 1024;
const EPHEMERAL_ATTEMPTS = 8;

export async function bindStunSockets(opts: StunSocketsOptions): Promise<BoundStunSockets> {
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
  if (opts.port !== 0) return bindAt(opts.host, opts.port, alt);
  let last: unknown;
  for (let i = 0; i < EPHEMERAL_ATTEMPTS; i++) {
    const probe = await bindUdpSocket({ address: opts.host, port: 0, recvBufferSize: BUFFER, sendBufferSize: BUFFER });
    const port = probe.localEndpoint().port;
    probe.close();
    if (port === 65535) continue;
    try {
      return await bindAt(opts.host, port, alt);
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new BurrowError('ERR_SOCKET_BIND', 'no free UDP port pair found');
}

async function bindAt(host: string, port: number, alt: string | null): Promise<BoundStunSockets> {
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
      sockets[slot] = await bindUdpSocket({ address, port: p, recvBufferSize: BUFFER, sendBufferSize: BUFFER });
    }
  } catch (err) {
    for (const s of Object.values(sockets)) s.close();
    throw err;
  }
  return { layout: { primary: { address: host, port }, altPort, altAddress: alt }, sockets };
}

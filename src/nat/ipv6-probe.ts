/**
 * The IPv6 section's I/O: the host's addresses (os.networkInterfaces), then
 * one STUN Binding request over UDP/IPv6 to the server from a socket bound
 * to the address the OS routes from (so "translated" can be told), with a
 * short timeout of its own.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { BindingClient } from '../stun/binding-client.js';
import { looksLikeStun } from '../wire/packet-kind.js';
import { u8 } from '../util/bytes.js';
import { flattenInterfaces, selectIpv6Addresses, type InterfaceAddress } from './ipv6-addresses.js';
import { ipv6Report } from './ipv6-report.js';
import { localAddressTowards } from './local-address.js';
import type { Ipv6Report } from './report.js';
import { NAT_CHECK_TIMERS } from './timers.js';

export interface Ipv6ProbeOptions {
  /** The server's IPv6 endpoint, or null with `noServerReason`. */
  server: UdpEndpoint | null;
  noServerReason?: string;
  /** Binds a UDP/IPv6 socket to this local address; the probe owns and closes it. */
  openSocket: (localAddress: string) => Promise<UdpSocket> | UdpSocket;
  /** Default: this host's interfaces. */
  interfaces?: readonly InterfaceAddress[];
  /** Default: the OS's routing choice (local-address.ts). */
  localAddressTowards?: (server: UdpEndpoint) => Promise<string | null>;
  timeoutMs?: number;
  scheduler?: Scheduler;
}

export async function probeIpv6(opts: Ipv6ProbeOptions): Promise<Ipv6Report> {
  const scheduler = opts.scheduler ?? realScheduler;
  const started = scheduler.now();
  const selection = selectIpv6Addresses(opts.interfaces ?? flattenInterfaces(networkInterfaces()));
  const server = opts.server;
  const done = (local: UdpEndpoint | null, mapped: UdpEndpoint | null): Ipv6Report =>
    ipv6Report({
      selection,
      server,
      ...(opts.noServerReason !== undefined ? { noServerReason: opts.noServerReason } : {}),
      local,
      mapped,
      durationMs: scheduler.now() - started,
    });
  if (server === null) return done(null, null);
  const localAddress = await (opts.localAddressTowards ?? localAddressTowards)(server);
  if (localAddress === null) return done(null, null);
  let socket: UdpSocket;
  try {
    socket = await opts.openSocket(localAddress);
  } catch {
    return done(null, null); // the address went away, or IPv6 is disabled: no route in effect
  }
  const client = new BindingClient(socket, { scheduler, random: (n) => randomBytes(n) });
  socket.onMessage((data, from) => {
    if (data.length > 0 && looksLikeStun(u8(data, 0))) client.handle(data, from);
  });
  socket.onError(() => {
    /* a send error shows as no answer */
  });
  try {
    const local = socket.localEndpoint();
    const r = await client.request({ to: server, timeoutMs: opts.timeoutMs ?? NAT_CHECK_TIMERS.ipv6ProbeMs });
    return done(local, r.ok ? r.info.mapped : null);
  } finally {
    client.close();
    socket.close();
  }
}

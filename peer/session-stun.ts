import type { Scheduler } from '../src/clock/scheduler.js';
import { formatEndpoint, sameEndpoint } from '../src/net/endpoint.js';
import { NodeUdpSocket } from '../src/net/node-udp-socket.js';
import type { UdpEndpoint, UdpSocket } from '../src/net/udp-socket.js';
import { localAddressTowards, noRoute, noRouteCause } from '../src/nat/local-address.js';
import { isSequentialStep } from '../src/nat/port-step.js';
import type { SessionNatInfo } from '../src/punch/index.js';
import { BindingClient } from '../src/stun/binding-client.js';
import { NORMAL_TTL } from '../src/punch/index.js';
import { DIRECT_TIMERS } from '../src/direct/index.js';
import { noUdp, type ReflexiveDiscovery } from './direct/options.js';

/** TTL-limited STUN requests 1..this find the hop count to the rendezvous. */
const MAX_HOP_PROBE = 8;

/** Whether `socket` can send towards `to` at all (this host has a route and a source address of that family). */
export type RouteCheck = (socket: UdpSocket, to: UdpEndpoint) => Promise<boolean>;

/**
 * The OS's answer (localAddressTowards, as `burrow nat` decides it) for a
 * socket that sends through the OS's routing table; any other socket (the
 * in-process lane's) is taken to have one: this machine's routes are not its.
 */
export const osRouteCheck: RouteCheck = async (socket, to) => !(socket instanceof NodeUdpSocket) || (await localAddressTowards(to)) !== null;

/**
 * What a session socket learns from the rendezvous's STUN ports before it
 * offers candidates: its server-reflexive address, and — by asking the
 * rendezvous's primary and alternate port from the same socket — whether
 * the NAT keeps one mapping per socket (endpoint-independent) or makes a new
 * one per destination, and if so whether the ports step predictably.
 * Extra STUN servers may be given; one that never answers costs only its
 * own bounded timeout.
 */
export class SessionStun implements ReflexiveDiscovery {
  constructor(
    private readonly servers: { primary: UdpEndpoint; alternatePort: UdpEndpoint; extra?: readonly UdpEndpoint[] },
    private readonly scheduler: Scheduler,
    private readonly random: (n: number) => Uint8Array,
    private readonly timeoutMs: number = DIRECT_TIMERS.stunTimeoutMs,
    private readonly hasRoute: RouteCheck = osRouteCheck,
  ) {}

  async discover(socket: UdpSocket, route: (handler: (data: Buffer, from: UdpEndpoint) => boolean) => void) {
    // No route (a v6-only host's IPv4 socket): nothing can leave this host, so
    // say so at once instead of after a whole STUN timeout, and not as "UDP blocked".
    const to = this.servers.primary;
    if (!(await this.hasRoute(socket, to).catch(() => true))) {
      return noUdp(`${noRoute(to)} to ${formatEndpoint(to)}`, `${noRoute(to)} to the rendezvous (${formatEndpoint(to)}): ${noRouteCause(to)}, so no STUN request could be sent`);
    }
    const client = new BindingClient(socket, { scheduler: this.scheduler, random: this.random });
    route((data, from) => client.handle(data, from));
    const q = (to: UdpEndpoint) => ({ to, timeoutMs: this.timeoutMs, rtoMs: DIRECT_TIMERS.stunRtoMs });
    // Extra STUN servers run alongside and get only the grace below: one that
    // never answers must not hold up the session.
    const extraMapped: UdpEndpoint[] = [];
    for (const to of this.servers.extra ?? []) {
      void client.request(q(to)).then((r) => {
        if (r.ok && r.info.mapped) extraMapped.push(r.info.mapped);
      });
    }
    // Hop count to the rendezvous: TTL-limited requests, one send each (a
    // retransmission would go out at the normal TTL). The smallest TTL that is
    // answered tells how far our NATs reach, so priming packets can be sent
    // just past them (a carrier NAT behind the home NAT needs TTL 3, not 2).
    const hopProbes: Promise<{ ttl: number; ok: boolean }>[] = [];
    for (let ttl = 1; ttl <= MAX_HOP_PROBE; ttl++) {
      socket.setTtl(ttl);
      hopProbes.push(client.request({ to: this.servers.primary, timeoutMs: this.timeoutMs, maxSends: 1 }).then((r) => ({ ttl, ok: r.ok })));
    }
    socket.setTtl(NORMAL_TTL);
    const reachedTtls: number[] = [];
    for (const h of hopProbes) void h.then((r) => r.ok && reachedTtls.push(r.ttl));
    const t0 = this.scheduler.now();
    const results = await client.requestAll([this.servers.primary, this.servers.alternatePort].map(q));
    // Hop probes (and extra servers) that can answer have answered within
    // about one round trip of the main answers; the ones that died on the way
    // never will, so don't wait for them.
    const rtt = this.scheduler.now() - t0;
    await new Promise<void>((resolve) => this.scheduler.at(this.scheduler.now() + Math.min(DIRECT_TIMERS.stunSettleMaxMs, 20 + rtt), resolve));
    client.close();
    const reached = reachedTtls;
    const hops = reached.length > 0 ? Math.min(...reached) : null;
    const [first, second] = results.map((r) => (r.ok ? r.info.mapped : null));
    const srflx = first ?? second ?? extraMapped[0] ?? null;
    const local = socket.localEndpoint();
    if (srflx === null) return noUdp('no STUN answer over UDP', undefined, hops);
    let nat: SessionNatInfo;
    if (first && second) {
      if (sameEndpoint(first, second)) {
        nat = { udp: true, mapping: 'independent', allocation: srflx.port === local.port ? 'preserving' : 'unknown' };
      } else {
        const step = second.port - first.port;
        nat =
          isSequentialStep(step)
            ? { udp: true, mapping: 'dependent', allocation: 'sequential', step }
            : { udp: true, mapping: 'dependent', allocation: 'random' };
        // The srflx for the peer is a guess either way; the last mapping seen is the base for prediction.
        return { srflx: second, nat, detail: `mapping differs per destination (${first.port} then ${second.port})`, hops };
      }
    } else {
      nat = { udp: true, mapping: 'unknown', allocation: 'unknown' };
    }
    return { srflx, nat, detail: `mapped ${srflx.address}:${srflx.port}, ${nat.mapping} mapping${hops ? `, ${hops} hops to the rendezvous` : ''}`, hops };
  }
}

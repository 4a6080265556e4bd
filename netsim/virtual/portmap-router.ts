/**
 * The port-mapping daemon of a virtual NAT router (the in-process twin of the
 * kernel lane's miniupnpd, test/portmap/): the sans-I/O PortMapServer
 * answering NAT-PMP and PCP on the router's LAN address, port 5351, its
 * forwards written into the router's NatTable, and one timer for the next
 * expiry (miniupnpd's cleaner). `restart()` loses the table as killing and
 * restarting the daemon does (the router's flows stay unless asked).
 */
import type { TimerHandle } from '../../src/clock/scheduler.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { VirtualNat } from './network.js';
import { DEFAULT_TTL, encodePacket, fnv1a } from './packet.js';
import { PORTMAP_SERVER_PORT, PortMapServer, type ForwardTable, type PortMapLease, type PortMapServerStats } from './portmap-server.js';

export interface PortMapRouterOptions {
  /** Answer NAT-PMP. Default true. */
  natpmp?: boolean;
  /** Answer PCP. Default true. */
  pcp?: boolean;
  /** External ports it may forward. Default 1024..65535. */
  portRange?: { min: number; max: number };
  /** Most forwards at once. Default 256. */
  maxLeases?: number;
}

/** What the daemon needs of its router. */
export interface PortMapRouterHost {
  readonly lanAddress: string;
  readonly wanAddress: string;
  readonly forwards: ForwardTable;
  now(): number;
  at(time: number, fn: () => void): TimerHandle;
  /** Sends a datagram from the router's own address into the LAN. */
  send(from: UdpEndpoint, to: UdpEndpoint, data: Buffer): void;
  /** `conntrack -F` on the router. */
  flush(): void;
}

export class PortMapRouter {
  readonly server: PortMapServer;
  private timer: TimerHandle | null = null;
  private timerAt: number | null = null;

  constructor(
    private readonly host: PortMapRouterHost,
    opts: PortMapRouterOptions = {},
  ) {
    this.server = new PortMapServer(
      {
        natpmp: opts.natpmp ?? true,
        pcp: opts.pcp ?? true,
        wanAddress: host.wanAddress,
        ...(opts.portRange ? { portRange: opts.portRange } : {}),
        ...(opts.maxLeases !== undefined ? { maxLeases: opts.maxLeases } : {}),
      },
      host.forwards,
      host.now(),
    );
  }

  /** Forwards in force. */
  get leases(): PortMapLease[] {
    return this.server.leases();
  }

  get stats(): PortMapServerStats {
    return this.server.stats;
  }

  /** The WAN address is reserved space: like miniupnpd 2.3.1, nothing is forwarded. */
  get reserved(): boolean {
    return this.server.reserved;
  }

  /** @internal A datagram for the router's port 5351 arrived from the LAN. */
  receive(data: Buffer, from: UdpEndpoint): void {
    const reply = this.server.handle(data, from, this.host.now());
    if (reply !== null) this.host.send({ address: this.host.lanAddress, port: PORTMAP_SERVER_PORT }, from, reply);
    this.arm();
  }

  /**
   * The daemon restarts: every forward it wrote is deleted and the epoch
   * starts from 0. `dropFlows`: the router's UDP flows go too (`conntrack -F`,
   * as a rebooted router); otherwise flows through a forward carry on until
   * they time out, as conntrack's do.
   */
  restart(opts: { dropFlows?: boolean } = {}): void {
    this.server.restart(this.host.now());
    if (opts.dropFlows === true) this.host.flush();
    this.arm();
  }

  private arm(): void {
    const next = this.server.nextDeadline();
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = next;
    if (next === null) return;
    this.timer = this.host.at(next, () => {
      this.timer = null;
      this.timerAt = null;
      this.server.poll(this.host.now());
      this.arm();
    });
  }
}

/** The daemon's view of its NAT router: the inside address, the NatTable's forwards, the clock, sending into the LAN. */
export function routerHostOf(nat: VirtualNat): PortMapRouterHost {
  const lanAddress = nat.addresses[0];
  if (lanAddress === undefined) throw new Error(`NAT ${nat.name} has no inside address to answer port mapping on`);
  const net = nat.network;
  return {
    lanAddress,
    wanAddress: nat.publicAddress,
    forwards: {
      addForward: (port, internal) => {
        nat.table.addForward(port, internal);
        nat.traceState();
      },
      removeForward: (port, now) => {
        const had = nat.table.removeForward(port, now);
        nat.traceState();
        return had;
      },
    },
    now: () => net.scheduler.now(),
    at: (time, fn) => net.scheduler.at(time, fn),
    send: (from, to, data) => {
      const t = net.scheduler.now();
      const where = { t, node: nat.name, from: `${from.address}:${from.port}`, to: `${to.address}:${to.port}`, len: data.length };
      net.record({ ...where, kind: 'send', hash: fnv1a(data), ttl: DEFAULT_TTL });
      const out = nat.lookup(to.address);
      if (out === undefined || out === nat.outside) {
        // Answers go back into the LAN the request came from; anything else has no route here.
        net.countDrop('no-route');
        net.record({ ...where, kind: 'drop', ttl: DEFAULT_TTL, note: 'no-route' });
        return;
      }
      out.end.send(encodePacket(from, to, DEFAULT_TTL, net.nextPacketId(), data));
    },
    flush: () => nat.flush(),
  };
}

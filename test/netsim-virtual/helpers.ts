/**
 * Test helpers: a rendezvous that reports each client's public endpoint, and
 * a tiny hole-punching loop (not burrow's), both over VirtualUdpSockets.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import type { VirtualHost, VirtualUdpSocket } from '../../netsim/virtual/index.js';
import { waitFor } from '../../netsim/virtual/index.js';

/** A rendezvous socket that records the public endpoint of each "hello <name>" and answers "ok". */
export class Rendezvous {
  readonly seen = new Map<string, UdpEndpoint>();
  readonly socket: VirtualUdpSocket;

  constructor(server: VirtualHost, port = 7000) {
    this.socket = server.bind({ port });
    this.socket.onMessage((data, from) => {
      const text = data.toString();
      if (text.startsWith('hello ')) {
        this.seen.set(text.slice(6), { address: from.address, port: from.port });
        this.socket.send(Buffer.from('ok'), from);
      }
    });
  }

  get endpoint(): UdpEndpoint {
    return this.socket.localEndpoint();
  }

  /** Registers `name` from `socket` and waits for the answer; returns the public endpoint. */
  async register(scheduler: VirtualScheduler, name: string, socket: VirtualUdpSocket): Promise<UdpEndpoint> {
    let ok = false;
    socket.onMessage((data) => {
      if (data.toString() === 'ok') ok = true;
    });
    socket.send(Buffer.from(`hello ${name}`), this.endpoint);
    if (!(await waitFor(scheduler, () => ok, 1000))) throw new Error(`${name} could not register`);
    return this.seen.get(name)!;
  }
}

export interface PunchOptions {
  /** Absolute virtual time the side starts (primes, if asked). */
  startAt: number;
  /** Send 3 TTL-2 packets at startAt before probing. */
  prime?: boolean;
  /** Delay from startAt to the first probe. Default 0. */
  probeDelayMs?: number;
  intervalMs?: number;
  probes?: number;
}

/**
 * One side of a punch: optionally prime with TTL-2 packets, then send a probe
 * every `intervalMs`; answer every probe from the peer's address (to the port
 * it came from). Success = a packet from the peer's address arrived.
 */
export class Puncher {
  received = 0;
  firstReceivedAt: number | null = null;
  receivedFrom = new Set<string>();

  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly socket: VirtualUdpSocket,
    private readonly peer: UdpEndpoint,
    private readonly name: string,
    private readonly opts: PunchOptions,
  ) {
    socket.onMessage((data, from) => {
      if (from.address !== peer.address) return;
      this.received++;
      this.receivedFrom.add(`${from.address}:${from.port}`);
      this.firstReceivedAt ??= scheduler.now();
      if (data.toString().startsWith('probe')) socket.send(Buffer.from(`ack ${name}`), from);
    });
  }

  get ok(): boolean {
    return this.received > 0;
  }

  start(): void {
    const { startAt, intervalMs = 100, probes = 20 } = this.opts;
    this.scheduler.at(startAt, () => {
      if (this.opts.prime) {
        this.socket.setTtl(2);
        for (let i = 0; i < 3; i++) this.socket.send(Buffer.from(`prime ${this.name}`), this.peer);
        this.socket.setTtl(64);
      }
      const first = startAt + (this.opts.probeDelayMs ?? 0);
      for (let i = 0; i < probes; i++) {
        this.scheduler.at(first + i * intervalMs, () => {
          if (!this.socket.closed) this.socket.send(Buffer.from(`probe ${this.name} ${i}`), this.peer);
        });
      }
    });
  }
}

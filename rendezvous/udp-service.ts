/**
 * The rendezvous's UDP port: a thin layer that feeds datagrams from its (up
 * to four) sockets to the sans-I/O StunResponder and sends what it answers.
 *
 * A wildcard layout may come with the same slots bound again on concrete
 * local addresses (stun-addresses.ts says why): a datagram that arrives on
 * one of those is answered from that address's socket of the reply slot, so
 * the answer leaves from the address the client asked. The responder, its
 * rate limiter and the stats are shared by all of them.
 *
 * Works on any UdpSocket (node:dgram or netsim's virtual network). Datagrams
 * whose first byte is not STUN's (src/wire/packet-kind.ts) go to the handler
 * given to onOtherPacket, so later protocols can share the port; without a
 * handler they are dropped and counted.
 */
import type { Scheduler } from '../src/clock/scheduler.js';
import { BurrowError } from '../src/errors.js';
import { realScheduler } from '../src/clock/scheduler.js';
import { formatEndpoint } from '../src/net/endpoint.js';
import type { UdpEndpoint, UdpSocket } from '../src/net/udp-socket.js';
import { u8 } from '../src/util/bytes.js';
import { looksLikeStun } from '../src/wire/packet-kind.js';
import { StunResponder, type StunLayout, type StunResponderOptions, type StunResponderStats, type StunSlot } from './stun-responder.js';

export type OtherPacketHandler = (data: Buffer, from: UdpEndpoint, socket: UdpSocket, slot: StunSlot) => void;

export interface UdpServiceStats extends StunResponderStats {
  /** Datagrams that were not STUN and had no other-packet handler. */
  notStun: number;
  /** Datagrams handed to the other-packet handler. */
  otherPackets: number;
  /** Empty datagrams. */
  empty: number;
}

/** One local address's own sockets, on the slots (ports) of a wildcard layout. */
export interface AddressSockets {
  address: string;
  sockets: Partial<Record<StunSlot, UdpSocket>>;
}

export class UdpService {
  readonly responder: StunResponder;
  private other: OtherPacketHandler | null = null;
  private readonly counts = { notStun: 0, otherPackets: 0, empty: 0 };
  /** One socket per slot of the layout, in StunResponder.slots() order. */
  private readonly sockets = new Map<StunSlot, UdpSocket>();
  /** Per local address: its socket for each slot of the layout. */
  private readonly perAddress = new Map<string, Map<StunSlot, UdpSocket>>();
  private readonly scheduler: Scheduler;

  /**
   * `sockets` must match `layout`: a socket for each slot the layout has
   * (see StunResponder.slots); so must each of `perAddress`, which only a
   * layout without a second address can have. The service owns them all and
   * closes them in close().
   */
  constructor(
    layout: StunLayout,
    sockets: Partial<Record<StunSlot, UdpSocket>>,
    opts: StunResponderOptions & { scheduler?: Scheduler } = {},
    perAddress: readonly AddressSockets[] = [],
  ) {
    this.responder = new StunResponder(layout, opts);
    this.scheduler = opts.scheduler ?? realScheduler;
    if (perAddress.length > 0 && layout.altAddress !== null) throw new Error('UdpService: per-address sockets need a layout without a second address');
    const take = (given: Partial<Record<StunSlot, UdpSocket>>, into: Map<StunSlot, UdpSocket>, what: string): void => {
      for (const slot of this.responder.slots()) {
        const s = given[slot];
        if (s === undefined) throw new Error(`UdpService: the layout has a ${slot} socket but none was given${what}`);
        into.set(slot, s);
      }
    };
    take(sockets, this.sockets, '');
    for (const a of perAddress) {
      if (this.perAddress.has(a.address)) throw new Error(`UdpService: two socket sets for ${a.address}`);
      const group = new Map<StunSlot, UdpSocket>();
      take(a.sockets, group, ` for ${a.address}`);
      this.perAddress.set(a.address, group);
    }
    // Listen only once every set is complete: a throw above leaves no handler behind.
    for (const group of [this.sockets, ...this.perAddress.values()]) {
      for (const [slot, s] of group) s.onMessage((data, from) => this.receive(group, slot, s, data, from));
    }
  }

  /** Receives every datagram whose first byte is not STUN's (replaces any earlier handler). */
  onOtherPacket(handler: OtherPacketHandler | null): void {
    this.other = handler;
  }

  /** The bound endpoints, primary first. */
  endpoints(): { slot: StunSlot; endpoint: UdpEndpoint }[] {
    return [...this.sockets].map(([slot, socket]) => ({ slot, endpoint: socket.localEndpoint() }));
  }

  /** The local addresses with sockets of their own (empty without). */
  addresses(): string[] {
    return [...this.perAddress.keys()];
  }

  /** "0.0.0.0:7000,0.0.0.0:7001" for the `listening` log line (the layout's sockets; addresses() lists the rest). */
  describe(): string {
    return this.endpoints()
      .map((e) => formatEndpoint(e.endpoint))
      .join(',');
  }

  get stats(): UdpServiceStats {
    const r = this.responder.stats;
    return { ...r, dropped: { ...r.dropped }, ...this.counts };
  }

  close(): void {
    for (const group of [this.sockets, ...this.perAddress.values()]) for (const socket of group.values()) socket.close();
  }

  private receive(group: ReadonlyMap<StunSlot, UdpSocket>, slot: StunSlot, socket: UdpSocket, data: Buffer, from: UdpEndpoint): void {
    if (data.length === 0) {
      this.counts.empty++;
      return;
    }
    if (!looksLikeStun(u8(data, 0))) {
      if (this.other === null) {
        this.counts.notStun++;
        return;
      }
      this.counts.otherPackets++;
      this.other(data, from, socket, slot);
      return;
    }
    const d = this.responder.handle(data, from, slot, this.scheduler.now());
    if (d.kind === 'reply') socketFor(group, d.slot).send(d.data, d.to);
  }
}

/** The responder answers only on its layout's slots, and every set has a socket for each. */
function socketFor(group: ReadonlyMap<StunSlot, UdpSocket>, slot: StunSlot): UdpSocket {
  const socket = group.get(slot);
  if (socket === undefined) throw new BurrowError('ERR_INTERNAL', `the responder answered on ${slot}, which has no socket`);
  return socket;
}

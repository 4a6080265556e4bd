import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { ProbeType, type FamilySockets, type ProbeCodec, type PunchRunner, type SessionNatInfo } from '../../src/punch/index.js';
import { PacketKind, looksLikeStun } from '../../src/wire/packet-kind.js';
import type { AttemptPortMap } from './attempt-portmap.js';

export type StunHandler = (data: Buffer, from: UdpEndpoint) => boolean;

export interface AttemptHooks {
  codec: ProbeCodec;
  /** A session packet on an attempt's socket (the peer locked before we did). */
  onSession: (data: Buffer) => void;
  /** An asynchronous error on socket `index` (see Attempt.families for the session sockets). */
  onError: (index: number, err: Error) => void;
}

/**
 * One punch attempt's sockets (the session socket of each family first, then
 * any birthday sockets), what address discovery found, and the punch once it
 * runs. It demultiplexes each socket: probes to the punch (or answered while
 * no punch runs), session packets to the session, STUN to discovery.
 */
export class Attempt {
  readonly sockets: UdpSocket[] = [];
  /** Which socket is the session socket of each family. */
  readonly families: FamilySockets = {};
  /** What discovery found on the IPv4 session socket (null: none yet, or no IPv4 socket). */
  nat: SessionNatInfo | null = null;
  /** Why that discovery found no UDP, when it knows (no route, no address of that family, DNS). */
  natReason: string | undefined = undefined;
  /** This attempt offered IPv6 candidates (STUN answered over IPv6). */
  offeredIpv6 = false;
  /** This host's addresses of both families (to tell a peer on a shared LAN). */
  localHosts: string[] = [];
  hops: number | null = null;
  runner: PunchRunner | null = null;
  /** The router port mapping of the session socket (null: not asked for). */
  portmap: AttemptPortMap | null = null;
  /** This attempt offered a mapped candidate. */
  offeredMapped = false;
  private readonly stun = new Map<number, StunHandler>();

  constructor(
    readonly n: number,
    private readonly hooks: AttemptHooks,
  ) {}

  /** Adds a socket and routes its datagrams; returns its index. */
  add(socket: UdpSocket): number {
    const index = this.sockets.push(socket) - 1;
    socket.onError((err) => this.hooks.onError(index, err));
    socket.onMessage((data, from) => this.route(index, socket, data, from));
    return index;
  }

  /** Where STUN answers on session socket `index` go (address discovery). */
  routeStun(index: number, handler: StunHandler): void {
    this.stun.set(index, handler);
  }

  /** Is socket `index` a session socket (not a birthday one)? */
  isSessionSocket(index: number): boolean {
    return this.families.v4 === index || this.families.v6 === index;
  }

  /**
   * Hands socket `keep` over (it won the punch) and closes the others. The
   * port mapping goes with the IPv4 session socket (returned, to be released
   * with the path), or is released here when another socket won.
   */
  release(keep: number): { socket: UdpSocket | undefined; portmap: AttemptPortMap | null } {
    const kept = this.sockets[keep];
    let portmap = this.portmap;
    this.portmap = null;
    if (keep !== this.families.v4) {
      portmap?.close();
      portmap = null;
    }
    this.sockets.forEach((s, i) => {
      if (i !== keep) s.close();
    });
    this.sockets.length = 0;
    return { socket: kept, portmap };
  }

  close(reason: string): void {
    this.runner?.stop(reason);
    for (const s of this.sockets) s.close();
    this.portmap?.retire();
    this.portmap = null;
  }

  private route(index: number, socket: UdpSocket, data: Buffer, from: UdpEndpoint): void {
    const kind = data[0];
    if (kind === undefined) return;
    if (kind === PacketKind.Probe) {
      if (this.runner !== null) this.runner.feed(data, from, index);
      else this.answerProbe(data, from, socket);
      return;
    }
    if (kind === PacketKind.Session || kind === PacketKind.Datagram) return this.hooks.onSession(data);
    if (looksLikeStun(kind)) this.stun.get(index)?.(data, from);
  }

  /** Probe-kind packets before the punch runs: answer, nothing more. */
  private answerProbe(data: Buffer, from: UdpEndpoint, socket: UdpSocket): void {
    const codec = this.hooks.codec;
    const p = codec.open(data);
    if (p === null) return;
    if (p.type === ProbeType.Probe) socket.send(codec.make(ProbeType.Ack, from, p.nonce).data, from);
    else if (p.type === ProbeType.Keepalive) socket.send(codec.make(ProbeType.KeepaliveAck, from, p.nonce).data, from);
  }
}

import type { Scheduler, TimerHandle } from '../clock/scheduler.js';
import { sameEndpoint } from '../net/endpoint.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { ProbeType, sendTransmits, type ProbeCodec } from '../punch/index.js';
import type { DatagramPath } from '../path/datagram-path.js';
import type { RecordPath } from '../path/record-path.js';
import { PacketKind } from '../wire/packet-kind.js';
import { PathMonitor } from './path-monitor.js';
import { UdpPath, directPacketMtu } from './udp-path.js';

/** What the direct path needs of the tunnel session it carries (TunnelSession has it). */
export interface DirectSession {
  /** An incoming sealed packet; true when it authenticated. */
  receive(packet: Buffer, path?: DatagramPath): boolean;
  /** Moves the session's sending to `path`; previousDied: resend what is in flight at once. */
  setPath(path: DatagramPath | RecordPath, opts?: { previousDied?: boolean }): void;
}

export interface LockedPathOptions {
  /** The socket that won the punch; the LockedPath owns it from now on. */
  socket: UdpSocket;
  remote: UdpEndpoint;
  codec: ProbeCodec;
  scheduler: Scheduler;
  session: DirectSession;
  keepaliveMs: number;
  /** This host's own addresses: a remote among them (or on loopback) gets the bigger on-host MTU. */
  hostAddresses?: readonly string[];
  /** The path stopped answering; `idleBeforeLossMs` is how long it had been quiet before (see PathMonitor). */
  onDead: (idleBeforeLossMs: number | null) => void;
  /** An asynchronous error on the socket (the owner decides whether it is fatal). */
  onSocketError?: (err: Error) => void;
}

/**
 * A punched path in use: the winning socket aimed at the locked endpoint, and
 * its health. Thin I/O around a PathMonitor: the session's sends and the
 * authenticated packets that come back are its evidence; keepalives hold the
 * NAT mappings when the session is idle, and quick checks decide when a
 * quiet path is dead. Late probes from a peer still punching are answered.
 */
export class LockedPath {
  readonly path: UdpPath;
  readonly socket: UdpSocket;
  readonly remote: UdpEndpoint;
  private readonly monitor: PathMonitor;
  private timer: TimerHandle | null = null;
  private armedAt = Infinity;
  private closed = false;

  constructor(private readonly o: LockedPathOptions) {
    this.socket = o.socket;
    this.remote = o.remote;
    this.monitor = new PathMonitor({ codec: o.codec, socket: 0, remote: o.remote, now: o.scheduler.now(), keepaliveMs: o.keepaliveMs });
    const monitor = this.monitor;
    const scheduler = o.scheduler;
    // The first unanswered send starts the liveness clock: make sure a timer is there for it.
    const rearm = () => this.arm();
    this.path = new (class extends UdpPath {
      override send(packet: Uint8Array): void {
        super.send(packet);
        if (monitor.onSent(scheduler.now())) rearm();
      }
    })(o.socket, o.remote, directPacketMtu(o.remote, o.hostAddresses));
    const onSocketError = o.onSocketError;
    o.socket.onError((err) => {
      if (!this.closed) onSocketError?.(err);
    });
    o.socket.onMessage((data, from) => {
      const kind = data[0];
      // KCP packets and a UDP service's datagrams both go to the session, which tells them apart.
      if (kind === PacketKind.Session || kind === PacketKind.Datagram) this.onSessionPacket(data, from);
      else if (kind === PacketKind.Probe) this.onProbe(data, from);
    });
    this.pump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.path.close();
    this.socket.close();
  }

  private onSessionPacket(data: Buffer, from: UdpEndpoint): void {
    const ok = this.o.session.receive(data, this.path);
    if (ok && sameEndpoint(from, this.remote)) this.monitor.onHeard(this.o.scheduler.now());
  }

  private onProbe(data: Buffer, from: UdpEndpoint): void {
    const p = this.o.codec.open(data);
    if (p === null) return;
    if (p.type === ProbeType.Probe) {
      this.socket.send(this.o.codec.make(ProbeType.Ack, from, p.nonce).data, from);
    } else if (p.type === ProbeType.Keepalive || p.type === ProbeType.KeepaliveAck) {
      this.monitor.handle(p, from, this.o.scheduler.now());
      this.pump();
    }
  }

  private pump(): void {
    if (this.closed) return;
    this.monitor.tick(this.o.scheduler.now());
    sendTransmits([this.socket], this.monitor.drain());
    if (this.monitor.health === 'dead') {
      this.timer?.cancel();
      this.timer = null;
      this.o.onDead(this.monitor.idleBeforeLossMs);
      return;
    }
    this.timer?.cancel();
    this.timer = null;
    this.armedAt = Infinity;
    this.arm();
  }

  /** Arms the timer for the monitor's next deadline unless an earlier one is armed. */
  private arm(): void {
    if (this.closed) return;
    const next = this.monitor.nextDeadline();
    if (next === null || next >= this.armedAt) return;
    this.timer?.cancel();
    this.armedAt = next;
    this.timer = this.o.scheduler.at(next, () => {
      this.timer = null;
      this.armedAt = Infinity;
      this.pump();
    });
  }
}

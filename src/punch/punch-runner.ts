import type { Scheduler, TimerHandle } from '../clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import type { ProbeCodec } from './probe-codec.js';
import { ProbeType } from './probe-packet.js';
import type { LockedEndpoint, PunchSession } from './punch-session.js';
import { sendTransmits } from './transmit.js';

/**
 * Thin I/O around a PunchSession: sends what it produces on the session's
 * sockets and wakes it at its deadlines. The sockets' owner routes
 * probe-kind datagrams here (`feed`), because one socket also carries STUN
 * and session packets.
 */
export class PunchRunner {
  private timer: TimerHandle | null = null;
  private armedAt = Infinity;
  private done = false;

  constructor(
    readonly punch: PunchSession,
    private readonly codec: ProbeCodec,
    private readonly sockets: readonly (UdpSocket | undefined)[],
    private readonly scheduler: Scheduler,
    private readonly onDone: (result: LockedEndpoint | null, punch: PunchSession) => void,
  ) {}

  start(): void {
    this.pump();
  }

  /** A probe-kind datagram on socket `index`. Returns false if it failed authentication. */
  feed(data: Buffer, from: UdpEndpoint, index: number): boolean {
    const p = this.codec.open(data);
    if (p === null) return false;
    if (p.type === ProbeType.Probe || p.type === ProbeType.Ack) this.punch.handle(p, from, index, this.scheduler.now());
    this.pump();
    return true;
  }

  stop(reason: string): void {
    this.punch.cancel(this.scheduler.now(), reason);
    this.timer?.cancel();
    this.timer = null;
    this.pump();
  }

  private pump(): void {
    const now = this.scheduler.now();
    this.punch.tick(now);
    sendTransmits(this.sockets, this.punch.drain());
    if (!this.done && (this.punch.state === 'locked' || this.punch.state === 'failed')) {
      this.done = true;
      this.onDone(this.punch.locked, this.punch);
    }
    const next = this.punch.nextDeadline();
    if (next === null) {
      this.timer?.cancel();
      this.timer = null;
      this.armedAt = Infinity;
      return;
    }
    if (this.timer !== null && this.armedAt <= next) return;
    this.timer?.cancel();
    this.armedAt = next;
    this.timer = this.scheduler.at(next, () => {
      this.timer = null;
      this.armedAt = Infinity;
      this.pump();
    });
  }
}

/** A UdpSocket that records what is sent and lets a test inject datagrams. */
import type { UdpEndpoint, UdpMessageHandler, UdpSocket } from '../../src/net/udp-socket.js';

export class FakeSocket implements UdpSocket {
  readonly sent: { data: Buffer; to: UdpEndpoint }[] = [];
  private handler: UdpMessageHandler = () => {};
  closed = false;

  constructor(private readonly local: UdpEndpoint) {}

  send(data: Uint8Array, to: UdpEndpoint): void {
    if (!this.closed) this.sent.push({ data: Buffer.from(data), to });
  }
  onMessage(handler: UdpMessageHandler): void {
    this.handler = handler;
  }
  onError(): void {}
  localEndpoint(): UdpEndpoint {
    return this.local;
  }
  setTtl(): void {}
  close(): void {
    this.closed = true;
  }
  /** Delivers a datagram as if it arrived from `from`. */
  inject(data: Uint8Array, from: UdpEndpoint): void {
    if (!this.closed) this.handler(Buffer.from(data), from);
  }
}

import type { DatagramPath, PathReceiver } from '../src/path/datagram-path.js';
import type { LinkEnd } from './link.js';

/** A datagram path over one end of a virtual link. */
export class MemoryPath implements DatagramPath {
  readonly kind = 'memory' as const;
  readonly mtu: number;
  private open = true;

  constructor(
    private readonly end: LinkEnd,
    readonly label = 'memory link',
    mtu = 1400,
  ) {
    this.mtu = mtu;
  }

  /** Delivers what the link brings to `receiver`, tagged with this path. */
  bind(receiver: PathReceiver): this {
    this.end.onReceive((packet) => {
      if (this.open) receiver(packet, this);
    });
    return this;
  }

  send(packet: Uint8Array): void {
    if (this.open) this.end.send(packet);
  }

  close(): void {
    this.open = false;
  }
}

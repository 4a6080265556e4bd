/** What every node of the virtual network is: interfaces on links, drops counted by reason. */
import type { VirtualLink } from '../link.js';
import { endpointText } from './ip6.js';
import type { PacketHeader } from './packet.js';
import type { VirtualNetwork } from './network.js';

/** Why packets were dropped, summed over the network. */
export type DropCounts = Record<string, number>;

/** One end of a link, attached to a node. */
export class VirtualInterface {
  constructor(
    readonly node: VirtualNode,
    readonly link: VirtualLink,
    readonly end: VirtualLink['a'],
    readonly name: string,
  ) {}
}

export abstract class VirtualNode {
  readonly interfaces: VirtualInterface[] = [];
  /** Drops at this node by reason. */
  readonly drops: DropCounts = {};

  constructor(
    readonly network: VirtualNetwork,
    readonly name: string,
  ) {}

  /** A packet arrived on `iface` (the buffer is this node's own copy). */
  abstract receive(packet: Buffer, iface: VirtualInterface): void;

  /** @internal */
  attach(link: VirtualLink, end: VirtualLink['a']): VirtualInterface {
    const iface = new VirtualInterface(this, link, end, `${this.name}/if${this.interfaces.length}`);
    this.interfaces.push(iface);
    end.onReceive((packet) => this.receive(packet, iface));
    return iface;
  }

  protected drop(reason: string, h: PacketHeader): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.network.countDrop(reason);
    this.network.record({
      t: this.network.scheduler.now(),
      kind: 'drop',
      node: this.name,
      from: endpointText(h.src, h.srcPort),
      to: endpointText(h.dst, h.dstPort),
      len: h.payloadLength,
      ttl: h.ttl,
      note: reason,
    });
  }
}

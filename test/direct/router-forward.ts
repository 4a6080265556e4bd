/**
 * A router's port forward on an in-process NAT, as miniupnpd sets one up
 * (the in-process lab speaks no NAT-PMP/PCP/UPnP; tests script the mapper and
 * install this forward where the mapper says it mapped). Modelled the way
 * /work/shared/REACH-FACTS.md found it on Linux:
 *  - a datagram from outside to PUBLIC:externalPort reaches the inside socket;
 *  - what the inside socket sends back to a remote that came in that way
 *    leaves from PUBLIC:externalPort (the reply follows the inbound conntrack entry);
 *  - what it sends *first* to any other remote goes through the ordinary
 *    masquerade (the NAT's own mapping, random port on a symmetric NAT), and
 *    that remote's datagrams to the forwarded port are then dropped (the
 *    conntrack clash: the reply tuple is taken);
 *  - `forwards: false`: a router that grants and lists the mapping but never forwards.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { VirtualInterface, VirtualNat } from '../../netsim/virtual/index.js';
import { decodeHeader, rewriteDestination, rewriteSource, type PacketHeader } from '../../netsim/virtual/packet.js';

export interface PortForward {
  /** Datagrams let in through the forward. */
  readonly admitted: number;
  /** Datagrams to the forwarded port that were dropped (no forwarding, or the clash). */
  readonly dropped: number;
  remove(): void;
}

type Forwarder = { forward(packet: Buffer, h: PacketHeader): void };
type Receive = (packet: Buffer, iface: VirtualInterface) => void;

export function addPortForward(nat: VirtualNat, externalPort: number, internal: UdpEndpoint, opts: { forwards: boolean }): PortForward {
  const original: Receive = nat.receive.bind(nat);
  const viaForward = new Set<string>();
  const masqueraded = new Set<string>();
  const forwarder = nat as unknown as Forwarder;
  let active = true;
  const stats = { admitted: 0, dropped: 0 };
  const key = (address: string, port: number): string => `${address}:${port}`;
  nat.receive = (packet: Buffer, iface: VirtualInterface): void => {
    const h = decodeHeader(packet);
    if (active && iface === nat.outside && h.dst === nat.publicAddress && h.dstPort === externalPort) {
      const from = key(h.src, h.srcPort);
      if (!opts.forwards || masqueraded.has(from)) {
        stats.dropped++;
        return;
      }
      stats.admitted++;
      viaForward.add(from);
      rewriteDestination(packet, internal.address, internal.port);
      forwarder.forward(packet, { ...h, dst: internal.address, dstPort: internal.port });
      return;
    }
    if (active && iface !== nat.outside && h.src === internal.address && h.srcPort === internal.port && h.dst !== nat.publicAddress) {
      const to = key(h.dst, h.dstPort);
      if (viaForward.has(to)) {
        if (h.ttl <= 1) return;
        rewriteSource(packet, nat.publicAddress, externalPort);
        forwarder.forward(packet, { ...h, src: nat.publicAddress, srcPort: externalPort });
        return;
      }
      // Conntrack records the flow before any TTL check: even a priming packet takes the tuple.
      masqueraded.add(to);
    }
    original(packet, iface);
  };
  return {
    get admitted() {
      return stats.admitted;
    },
    get dropped() {
      return stats.dropped;
    },
    remove() {
      active = false;
    },
  };
}

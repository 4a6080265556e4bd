import { UdpService } from '../../rendezvous/udp-service.js';
import { SERVER_ADDRESSES, type Topology } from '../../netsim/virtual/index.js';

/** The rendezvous's STUN service on the in-process lab's server (both addresses, ports 7000 and 7001). */
export function virtualStunService(topo: Topology): { udp: UdpService; ip1: string; ip2: string } {
  const [ip1, ip2] = SERVER_ADDRESSES;
  const udp = new UdpService(
    { primary: { address: ip1, port: 7000 }, altPort: 7001, altAddress: ip2 },
    {
      primary: topo.server.bind({ address: ip1, port: 7000 }),
      altPort: topo.server.bind({ address: ip1, port: 7001 }),
      altAddress: topo.server.bind({ address: ip2, port: 7000 }),
      altBoth: topo.server.bind({ address: ip2, port: 7001 }),
    },
    { scheduler: topo.scheduler },
  );
  return { udp, ip1, ip2 };
}

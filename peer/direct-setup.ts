import type { ClientMessage } from '../src/control/index.js';
import type { Logger } from '../src/log/logger.js';
import type { Runtime } from '../src/net/runtime.js';
import type { Role } from '../src/role.js';
import type { UdpEndpoint } from '../src/net/udp-socket.js';
import type { TunnelSession } from '../src/session/index.js';
import { DirectLink, type DirectOptions, type PortMapperFactory } from './direct-link.js';
import type { HostLookup } from '../src/net/dial-stream.js';
import { RendezvousDiscovery } from './direct/rendezvous-discovery.js';
import type { HostPort } from './endpoint-arg.js';

/** How a peer reaches for the direct path (xtcp). */
export interface DirectConfig {
  /** The rendezvous's STUN port (default: the same port number as its TCP port). */
  udpPort?: number;
  /** More STUN servers to ask for the server-reflexive address (IP:port). */
  stunServers?: readonly UdpEndpoint[];
  options?: Partial<DirectOptions>;
  /** This host's addresses to offer (default: the OS's interfaces). */
  hostAddresses?: () => string[];
  /** Bind session sockets to this address (default: any). */
  bindAddress?: string;
  /**
   * Ask the home router for a port mapping of each session socket (NAT-PMP,
   * PCP, UPnP IGD) and offer it as a `mapped` candidate: true = the real
   * mapper, or a mapper of your own. Off unless asked for (the CLI asks by
   * default; `--no-portmap` turns it off), so embedded and in-process runs
   * never talk to a router.
   */
  portmap?: boolean | PortMapperFactory;
}

export async function createDirectLink(args: {
  connId: string;
  role: Role;
  sessionKey: Buffer;
  session: TunnelSession;
  runtime: Runtime;
  server: HostPort;
  config: DirectConfig;
  sendControl: (m: ClientMessage) => boolean;
  logger: Logger;
  /** How the rendezvous's name becomes addresses for UDP (default: the runtime's lookup, A and AAAA). */
  resolve?: HostLookup;
}): Promise<DirectLink> {
  const { runtime: rt, config } = args;
  // UDP needs an address: the name is resolved when the first attempt asks for its address (see RendezvousDiscovery).
  const discovery = new RendezvousDiscovery(
    { host: args.server.host, port: config.udpPort ?? args.server.port, ...(config.stunServers ? { extra: config.stunServers } : {}) },
    rt.scheduler,
    (n) => rt.random.bytes(n),
    args.resolve ?? rt.lookup,
  );
  return new DirectLink({
    connId: args.connId,
    role: args.role,
    sessionKey: args.sessionKey,
    session: args.session,
    udp: rt.udp,
    scheduler: rt.scheduler,
    random: rt.random,
    discovery,
    sendControl: args.sendControl,
    logger: args.logger,
    ...(config.options ? { options: config.options } : {}),
    ...(config.hostAddresses ? { hostAddresses: config.hostAddresses } : {}),
    ...(config.bindAddress ? { bindAddress: config.bindAddress } : {}),
    // true: DirectLink's default, the real mapper.
    ...(config.portmap === true ? {} : { portmap: config.portmap === undefined || config.portmap === false ? 'none' : config.portmap }),
  });
}

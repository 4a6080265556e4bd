import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClientMessage } from '../src/control/index.js';
import type { Logger } from '../src/log/logger.js';
import type { Runtime } from '../src/net/runtime.js';
import type { Role } from '../src/role.js';
import type { UdpEndpoint } from '../src/net/udp-socket.js';
import type { TunnelSession } from '../src/session/index.js';
import { DirectLink, type DirectOptions } from './direct-link.js';
import type { HostPort } from './endpoint-arg.js';
import { SessionStun } from './session-stun.js';

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
}

/** UDP needs an address: resolve the rendezvous's name once per session. */
async function resolveServer(host: string): Promise<string | null> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    return null;
  }
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
}): Promise<DirectLink> {
  const { runtime: rt, config } = args;
  const address = (await resolveServer(args.server.host)) ?? '0.0.0.0';
  const port = config.udpPort ?? args.server.port;
  const discovery = new SessionStun(
    { primary: { address, port }, alternatePort: { address, port: port + 1 }, ...(config.stunServers ? { extra: config.stunServers } : {}) },
    rt.scheduler,
    (n) => rt.random.bytes(n),
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
  });
}

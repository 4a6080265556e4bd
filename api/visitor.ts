import type { BurrowError } from '../src/errors.js';
import type { TunnelSession } from '../src/session/index.js';
import type { HostPort } from '../peer/endpoint-arg.js';
import type { PeerMetricsSource } from '../peer/metrics.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import { Visitor } from '../peer/visitor.js';
import { checkOptions, loggerOrSilent, toDirectConfig, toHostPort, visitorOptions, type VisitorOptions } from './options.js';
import { PeerHandle } from './peer-handle.js';
import { udpSettings } from '../peer/udp/udp-settings.js';

/** A running visitor: a local port whose connections lead to the provided service. */
export class RunningVisitor extends PeerHandle {
  constructor(
    private readonly visitor: Visitor,
    /** Where local applications connect, or send datagrams with proto 'udp' (the port chosen, when 0 was asked for). */
    readonly address: HostPort,
    readonly service: string,
    portmap: boolean,
  ) {
    super('visitor', portmap);
    visitor.on('session', (session: TunnelSession) => this.track(session, service));
    visitor.on('fatal', (err: BurrowError) => this.fatal(err));
  }

  protected get serviceNames(): readonly string[] {
    return [this.service];
  }

  get metricsSource(): PeerMetricsSource {
    return this.visitor;
  }

  protected stopPeer(): Promise<void> {
    return this.visitor.stop();
  }
}

/**
 * Starts a visitor and resolves once its local port listens; the session
 * with the provider is set up right after (a 'session' event), and local
 * connections made before it is up wait for it. A wrong secret or token
 * comes as a 'fatal' event. Rejects with ERR_CONFIG for a wrong option and
 * ERR_INVALID_ARGUMENT when the port cannot be listened on.
 */
export async function startVisitor(options: VisitorOptions): Promise<RunningVisitor> {
  const fn = 'startVisitor';
  const o = checkOptions(fn, visitorOptions, options);
  const direct = toDirectConfig(o.direct);
  const visitor = new Visitor({
    server: toHostPort(fn, 'server', o.server),
    token: o.token,
    service: o.name,
    secret: o.secret,
    listen: toHostPort(fn, 'listen', o.listen ?? '127.0.0.1:0', '127.0.0.1'),
    logger: loggerOrSilent(o.logger),
    mode: o.mode ?? PEER_DEFAULTS.mode,
    relay: o.relay ?? PEER_DEFAULTS.relay,
    direct,
    proto: o.proto ?? 'tcp',
    udpFlows: udpSettings(o.udpIdleSeconds, o.udpFlows),
  });
  const addr = await visitor.start();
  // start() began connecting to the rendezvous: no event of it can arrive before this line runs.
  return new RunningVisitor(visitor, { host: addr.address, port: addr.port }, o.name, direct.portmap === true);
}

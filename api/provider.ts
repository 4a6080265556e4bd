import { BurrowError } from '../src/errors.js';
import type { TunnelSession } from '../src/session/index.js';
import { formatHostPort } from '../peer/endpoint-arg.js';
import { PEER_DEFAULTS } from '../peer/peer-defaults.js';
import type { PeerMetricsSource } from '../peer/metrics.js';
import { Provider, type ProvidedService } from '../peer/provider.js';
import { checkOptions, loggerOrSilent, providerOptions, toDirectConfig, toHostPort, type ProviderOptions } from './options.js';
import { PeerHandle } from './peer-handle.js';
import { udpSettings } from '../peer/udp/udp-settings.js';

/** How long startProvider waits, by default, for the rendezvous to confirm the registration. */
const DEFAULT_START_TIMEOUT_MS = 15_000;

/** A running provider: offers its services to visitors that know their secrets. */
export class RunningProvider extends PeerHandle {
  private confirmed: readonly string[] = [];

  constructor(private readonly provider: Provider, portmap: boolean) {
    super('provider', portmap);
    provider.on('registered', (names: string[]) => (this.confirmed = names));
    provider.on('session', (session: TunnelSession, service: string) => this.track(session, service));
    provider.on('fatal', (err: BurrowError) => this.fatal(err));
  }

  /** The service names the rendezvous confirmed last (empty until then). */
  get registered(): readonly string[] {
    return this.confirmed;
  }

  protected get serviceNames(): readonly string[] {
    return this.confirmed;
  }

  get metricsSource(): PeerMetricsSource {
    return this.provider;
  }

  protected stopPeer(): void {
    this.provider.stop();
  }

  /** Resolves at the rendezvous's confirmation; rejects on a fatal failure or after `ms`. */
  waitRegistered(ms: number, server: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let refusal = '';
      const onTaken = (message: string) => (refusal = `: ${message}`);
      const done = () => {
        clearTimeout(timer);
        this.provider.off('registered', onRegistered);
        this.provider.off('name-taken', onTaken);
        this.off('fatal', onFatal);
      };
      const onRegistered = () => {
        done();
        resolve();
      };
      const onFatal = (err: BurrowError) => {
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        done();
        reject(new BurrowError('ERR_CONNECT_FAILED', `startProvider: the rendezvous at ${server} did not confirm the registration within ${ms} ms${refusal}`));
      }, ms);
      this.provider.on('registered', onRegistered);
      this.provider.on('name-taken', onTaken);
      this.on('fatal', onFatal);
    });
  }
}

/**
 * Starts a provider and resolves once the rendezvous has confirmed its
 * services (or at once with `startTimeoutMs: 0`; it then keeps trying in the
 * background). Rejects with a BurrowError, having stopped everything: ERR_CONFIG
 * for a wrong option, ERR_RENDEZVOUS_TOKEN, ERR_CONNECT_FAILED when no
 * confirmation came in time.
 */
export async function startProvider(options: ProviderOptions): Promise<RunningProvider> {
  const fn = 'startProvider';
  const o = checkOptions(fn, providerOptions, options);
  const server = toHostPort(fn, 'server', o.server);
  const services: ProvidedService[] = o.services.map((s, i) => ({
    name: s.name,
    secret: s.secret,
    target: toHostPort(fn, `services.${i}.to`, s.to, '127.0.0.1'),
    proto: s.proto ?? o.proto ?? 'tcp',
    udpFlows: udpSettings(s.udpIdleSeconds ?? o.udpIdleSeconds, s.udpFlows ?? o.udpFlows),
  }));
  const names = new Set<string>();
  for (const s of services) {
    if (names.has(s.name)) throw new BurrowError('ERR_CONFIG', `${fn}: option "services": the name "${s.name}" is given twice`);
    names.add(s.name);
  }
  const direct = toDirectConfig(o.direct);
  const provider = new Provider({ server, token: o.token, services, logger: loggerOrSilent(o.logger), mode: o.mode ?? PEER_DEFAULTS.mode, direct });
  const handle = new RunningProvider(provider, direct.portmap === true);
  provider.start();
  const wait = o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (wait > 0) {
    try {
      await handle.waitRegistered(wait, formatHostPort(server));
    } catch (err) {
      await handle.stop();
      throw err;
    }
  }
  return handle;
}

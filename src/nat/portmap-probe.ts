/**
 * The port-mapping section's I/O: one PortMapper run for a fresh UDP socket
 * (all three protocols probed at once), until its first verdict or a bound;
 * then the mapper is closed, which deletes the test mapping on the router,
 * and the socket with it. Never throws: every failure is an observation.
 */
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import type { Logger } from '../log/logger.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { nodeUdpSocketFactory, type UdpSocketFactory } from '../net/udp-factory.js';
import type { PortMapEvent, PortMapProtocol } from '../portmap/mapper-core.js';
import { readDefaultGateway } from '../portmap/local-network.js';
import { PortMapper, type PortMapperOptions } from '../portmap/port-mapper.js';
import { localAddressTowards } from './local-address.js';
import type { PortMapObservations } from './portmap-report.js';
import { NAT_CHECK_TIMERS } from './timers.js';

export interface PortMapProbeOptions {
  /** The router to ask; default the default route's gateway. */
  gateway?: string;
  /** Our address towards it; default the OS's routing choice. */
  localAddress?: string;
  /** Opens sockets: the one whose port is mapped, and the mapper's control socket. */
  udp?: UdpSocketFactory;
  scheduler?: Scheduler;
  verdictMs?: number;
  lifetimeSeconds?: number;
  log?: Logger;
  /** Tests: the mapper's HTTP client and random source. */
  mapper?: Pick<PortMapperOptions, 'http' | 'random'>;
  /** Default: the OS's routing choice (local-address.ts). */
  localAddressTowards?: (to: UdpEndpoint) => Promise<string | null>;
}

type Verdict = Extract<PortMapEvent, { type: 'mapped' | 'failed' }>;

export async function probePortMapping(opts: PortMapProbeOptions = {}): Promise<PortMapObservations> {
  const scheduler = opts.scheduler ?? realScheduler;
  const started = scheduler.now();
  const lifetimeSeconds = opts.lifetimeSeconds ?? NAT_CHECK_TIMERS.portMapLifetimeSeconds;
  const obs = (o: Partial<PortMapObservations> & Pick<PortMapObservations, 'gateway'>): PortMapObservations => ({
    answered: new Set(),
    verdict: null,
    release: null,
    askedLifetimeSeconds: lifetimeSeconds,
    ...o,
    durationMs: scheduler.now() - started,
  });

  let gateway = opts.gateway;
  let localAddress = opts.localAddress;
  if (gateway === undefined) {
    const found = readDefaultGateway();
    if (found === null) return obs({ gateway: null, noGatewayReason: 'no default IPv4 gateway to ask' });
    gateway = found.gateway;
    localAddress ??= found.localAddress;
  }
  localAddress ??= (await (opts.localAddressTowards ?? localAddressTowards)({ address: gateway, port: 5351 })) ?? undefined;
  if (localAddress === undefined) return obs({ gateway: null, noGatewayReason: `no route to the gateway ${gateway}` });

  const udp = opts.udp ?? nodeUdpSocketFactory;
  let mapped: UdpSocket;
  try {
    mapped = await udp(localAddress);
  } catch (e) {
    return obs({ gateway: null, noGatewayReason: `cannot open a UDP socket on ${localAddress}: ${(e as Error).message}` });
  }
  let pm: PortMapper | null = null;
  try {
    let settle: (v: Verdict | null) => void = () => {};
    const verdict = new Promise<Verdict | null>((resolve) => (settle = resolve));
    const timer = scheduler.at(scheduler.now() + (opts.verdictMs ?? NAT_CHECK_TIMERS.portMapVerdictMs), () => settle(null));
    try {
      pm = await PortMapper.start({
        internalPort: mapped.localEndpoint().port,
        gateway,
        localAddress,
        lifetimeSeconds,
        udp,
        scheduler,
        // The report lists every protocol that answered: UPnP gets its whole search.
        probeEveryProtocol: true,
        ...(opts.mapper ?? {}),
        ...(opts.log !== undefined ? { log: opts.log } : {}),
        onEvent: (e) => {
          if (e.type === 'mapped' || e.type === 'failed') settle(e);
        },
      });
    } catch (e) {
      timer.cancel();
      return obs({ gateway: null, noGatewayReason: (e as Error).message });
    }
    const v = await verdict;
    timer.cancel();
    await pm.close();
    const rel = pm.lastRelease;
    return obs({ gateway, answered: pm.lastProbe ?? new Set(), verdict: v, release: rel === null ? null : rel.outcome });
  } finally {
    await pm?.close();
    mapped.close();
  }
}

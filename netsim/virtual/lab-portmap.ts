/**
 * The real port mapper (src/portmap's PortMapper, as sessions start it) on a
 * virtual host: the gateway and our address are given (there is no
 * /proc/net/route in here), UDP goes over the host's virtual sockets, time
 * over the VirtualScheduler. UPnP's HTTP is refused outright: no virtual
 * router answers SSDP, so it is never reached.
 */
import type { RandomSource } from '../../src/clock/random.js';
import type { Scheduler } from '../../src/clock/scheduler.js';
import { BurrowError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { HttpClient } from '../../src/portmap/http-client.js';
import { PortMapper, type PortMapperOptions } from '../../src/portmap/index.js';
import type { PortMapperFactory } from '../../peer/direct/attempt-portmap.js';

export interface VirtualPortMapperOptions {
  /** The router's LAN address (the site NAT's inside address). */
  gateway: string;
  /** Our address on the router's LAN. */
  localAddress: string;
  udp: UdpSocketFactory;
  scheduler: Scheduler;
  random: RandomSource;
  log?: Logger;
  /** More PortMapper options (tests: lifetime, refresh cap, protocols). */
  extra?: Partial<Pick<PortMapperOptions, 'lifetimeSeconds' | 'maxRefreshIntervalMs' | 'protocols'>>;
}

const noHttp: HttpClient = (url) => Promise.reject(new BurrowError('ERR_PORTMAP_UNREACHABLE', `no HTTP on the in-process lane (${url.href})`));

/** PortMapper options for one internal port on a virtual host. */
export function virtualPortMapperOptions(o: VirtualPortMapperOptions, internalPort: number, onEvent: PortMapperOptions['onEvent']): PortMapperOptions {
  return {
    internalPort,
    onEvent,
    gateway: o.gateway,
    localAddress: o.localAddress,
    udp: o.udp,
    scheduler: o.scheduler,
    random: o.random,
    http: noHttp,
    ...(o.log ? { log: o.log } : {}),
    ...o.extra,
  };
}

/** A session's PortMapperFactory (DirectConfig.portmap) over the virtual host. */
export function virtualPortMapper(o: VirtualPortMapperOptions): PortMapperFactory {
  return (internalPort, onEvent, prefer) =>
    PortMapper.start({ ...virtualPortMapperOptions(o, internalPort, onEvent), ...(prefer ? { protocols: [prefer] } : {}) });
}

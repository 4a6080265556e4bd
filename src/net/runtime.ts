import { cryptoRandom, type RandomSource } from '../clock/random.js';
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import { dnsLookupAll, type HostLookup } from './dial-stream.js';
import { nodeStreamTransport } from './node-stream-transport.js';
import type { StreamTransport } from './stream-transport.js';
import { nodeUdpSocketFactory, type UdpSocketFactory } from './udp-factory.js';

/**
 * Everything a rendezvous or a peer takes from the outside world: TCP-like
 * streams, UDP sockets, time and randomness. The defaults are the real ones
 * (node:net, node:dns, node:dgram, the event loop, the OS CSPRNG); netsim's in-process
 * lane passes virtual ones so a whole session runs on a fake clock, repeatably.
 */
export interface Runtime {
  transport: StreamTransport;
  /** Names to addresses (A and AAAA) for dialStream's Happy Eyeballs (default: node:dns; optional so runtimes built by hand stay valid). */
  lookup?: HostLookup;
  udp: UdpSocketFactory;
  scheduler: Scheduler;
  random: RandomSource;
}

export type RuntimeOptions = Partial<Runtime>;

export function resolveRuntime(opts: RuntimeOptions = {}): Runtime {
  return {
    transport: opts.transport ?? nodeStreamTransport,
    lookup: opts.lookup ?? dnsLookupAll,
    udp: opts.udp ?? nodeUdpSocketFactory,
    scheduler: opts.scheduler ?? realScheduler,
    random: opts.random ?? cryptoRandom,
  };
}

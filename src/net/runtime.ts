import { cryptoRandom, type RandomSource } from '../clock/random.js';
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import { nodeStreamTransport } from './node-stream-transport.js';
import type { StreamTransport } from './stream-transport.js';
import { nodeUdpSocketFactory, type UdpSocketFactory } from './udp-factory.js';

/**
 * Everything a rendezvous or a peer takes from the outside world: TCP-like
 * streams, UDP sockets, time and randomness. The defaults are the real ones
 * (node:net, node:dgram, the event loop, the OS CSPRNG); netsim's in-process
 * lane passes virtual ones so a whole session runs on a fake clock, repeatably.
 */
export interface Runtime {
  transport: StreamTransport;
  udp: UdpSocketFactory;
  scheduler: Scheduler;
  random: RandomSource;
}

export type RuntimeOptions = Partial<Runtime>;

export function resolveRuntime(opts: RuntimeOptions = {}): Runtime {
  return {
    transport: opts.transport ?? nodeStreamTransport,
    udp: opts.udp ?? nodeUdpSocketFactory,
    scheduler: opts.scheduler ?? realScheduler,
    random: opts.random ?? cryptoRandom,
  };
}

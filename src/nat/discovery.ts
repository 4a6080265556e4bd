/**
 * NAT behaviour discovery (RFC 5780 section 4, plus port allocation and
 * hairpinning), the I/O half: it opens its own UDP sockets, asks a STUN
 * server, and hands what it saw to analyse().
 *
 *   test I     main socket -> primary address and port: the public address.
 *   mapping    main socket -> the server's other IP (and port), or with
 *              one IP its other port: does the public address:port change?
 *   filtering  two fresh sockets, each after one plain request: ask for the
 *              answer from the other IP and port / from the other port only.
 *   ports      fresh sockets one after another: preserved, in sequence, or random.
 *   hairpin    two sockets send to each other's public address (and the
 *              main one to its own) for a few rounds.
 *
 * Mapping and the two filtering tests run in parallel (separate sockets, so
 * they cannot disturb each other); port sampling and hairpinning run after,
 * alone, so no other new mapping lands between the sampled ones.
 */
import { randomBytes } from 'node:crypto';
import { realScheduler, type Scheduler } from '../clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { BindingClient, type BindingQuery } from '../stun/binding-client.js';
import { sameAddress, sameEndpoint } from '../net/endpoint.js';
import type { TransactionResult } from '../stun/transaction.js';
import { looksLikeStun } from '../wire/packet-kind.js';
import { u8 } from '../util/bytes.js';
import { analyse, type Observations } from './analyse.js';
import type { NatReport, PortSample } from './report.js';

export interface DiscoveryOptions {
  /** The STUN server's primary address and port (an IP literal). */
  server: UdpEndpoint;
  /**
   * The server also answers on port+1 (a burrow rendezvous always does).
   * Used for the one-address tests when the server reports no second address.
   */
  altPort?: boolean;
  /**
   * Opens a fresh UDP socket; discovery owns it and closes it. Bind it to the
   * concrete local address that routes to the server (not a wildcard), or
   * "no NAT" cannot be recognised.
   */
  openSocket: () => Promise<UdpSocket> | UdpSocket;
  scheduler?: Scheduler;
  random?: (size: number) => Uint8Array;
  /** Per request: give up after this long. Default 2000 ms. */
  timeoutMs?: number;
  /** Fresh sockets sampled for port allocation. Default 4. */
  portSamples?: number;
  /** Hairpin rounds and the wait after each. Default 3 x 250 ms. */
  hairpinRounds?: number;
  hairpinWaitMs?: number;
}

const HAIRPIN_MAGIC = Buffer.from('\xffburrow-hairpin', 'latin1');

/** A socket discovery owns: STUN answers go to its client, anything else to `other`. */
class ProbeSocket {
  readonly client: BindingClient;
  readonly other: Buffer[] = [];

  constructor(
    readonly socket: UdpSocket,
    scheduler: Scheduler,
    random: (size: number) => Uint8Array,
  ) {
    this.client = new BindingClient(socket, { scheduler, random });
    socket.onMessage((data, from) => {
      if (data.length > 0 && looksLikeStun(u8(data, 0)) && this.client.handle(data, from)) return;
      // Only our own hairpin probes are kept, and only a few.
      if (data.length === HAIRPIN_MAGIC.length + 8 && data.subarray(0, HAIRPIN_MAGIC.length).equals(HAIRPIN_MAGIC) && this.other.length < 16) {
        this.other.push(Buffer.from(data));
      }
    });
  }

  get local(): UdpEndpoint {
    return this.socket.localEndpoint();
  }

  close(): void {
    this.client.close();
    this.socket.close();
  }
}

export async function discoverNat(opts: DiscoveryOptions): Promise<NatReport> {
  const scheduler = opts.scheduler ?? realScheduler;
  const random = opts.random ?? ((n: number) => randomBytes(n));
  const timeoutMs = opts.timeoutMs ?? 2000;
  const started = scheduler.now();
  const open: ProbeSocket[] = [];
  const openProbe = async (): Promise<ProbeSocket> => {
    const p = new ProbeSocket(await opts.openSocket(), scheduler, random);
    open.push(p);
    return p;
  };
  const ask = (p: ProbeSocket, q: BindingQuery): Promise<TransactionResult> => p.client.request({ timeoutMs, ...q });
  const server = opts.server;

  try {
    const main = await openProbe();
    const r1 = await ask(main, { to: server });
    const obs: Observations = {
      server,
      local: main.local,
      first: null,
      altAddress: null,
      altPort: null,
      portSamples: [],
      durationMs: 0,
    };
    if (!r1.ok || r1.info.mapped === null) {
      obs.durationMs = scheduler.now() - started;
      return analyse(obs);
    }
    const x1 = r1.info.mapped;
    obs.first = { mapped: x1, other: r1.info.other };
    // OTHER-ADDRESS is the server's own view; trust it only if it differs in address and port.
    const other = r1.info.other;
    if (other !== null && !sameAddress(other.address, server.address) && other.port !== server.port) {
      obs.altAddress = other;
      obs.altPort = { address: server.address, port: other.port };
    } else if (opts.altPort && server.port < 65535) {
      obs.altPort = { address: server.address, port: server.port + 1 };
    }

    const mappingTest = async (): Promise<void> => {
      if (obs.altAddress !== null) {
        const alt = obs.altAddress;
        const r2 = await ask(main, { to: { address: alt.address, port: server.port } });
        obs.mappingAltAddress = r2.ok ? r2.info.mapped : null;
        if (obs.mappingAltAddress !== null && !sameEndpoint(obs.mappingAltAddress, x1)) {
          const r3 = await ask(main, { to: alt });
          obs.mappingAltBoth = r3.ok ? r3.info.mapped : null;
        }
      } else if (obs.altPort !== null) {
        const rp = await ask(main, { to: obs.altPort });
        obs.mappingAltPort = rp.ok ? rp.info.mapped : null;
      }
    };
    // Each filtering test on its own fresh socket: one plain request opens the
    // NAT towards the server's primary endpoint, then the changed answer either
    // gets through or not.
    const filteringTest = async (changeIp: boolean, expectFrom: UdpEndpoint): Promise<boolean | undefined> => {
      const f = await openProbe();
      const base = await ask(f, { to: server });
      if (!base.ok) return undefined;
      const r = await ask(f, { to: server, changeIp, changePort: true, acceptFrom: [expectFrom] });
      return r.ok;
    };
    await Promise.all([
      mappingTest(),
      obs.altAddress !== null
        ? filteringTest(true, obs.altAddress).then((v) => {
            if (v !== undefined) obs.filterChangeBoth = v;
          })
        : Promise.resolve(),
      obs.altPort !== null
        ? filteringTest(false, obs.altPort).then((v) => {
            if (v !== undefined) obs.filterChangePort = v;
          })
        : Promise.resolve(),
    ]);

    // Port allocation: fresh sockets one after another, all kept open until
    // the end so neither the OS nor the NAT reuses a port in between.
    const samples: PortSample[] = [];
    for (let i = 0; i < (opts.portSamples ?? 4); i++) {
      const s = await openProbe();
      const r = await ask(s, { to: server });
      if (r.ok && r.info.mapped !== null) samples.push({ local: s.local.port, mapped: r.info.mapped.port });
    }
    obs.portSamples = samples;

    if (!sameEndpoint(x1, main.local)) obs.hairpin = await hairpinTest(main, x1, await openProbe(), opts, scheduler, random, ask, server);
    obs.durationMs = scheduler.now() - started;
    return analyse(obs);
  } finally {
    for (const p of open) p.close();
  }
}

async function hairpinTest(
  main: ProbeSocket,
  mainPublic: UdpEndpoint,
  second: ProbeSocket,
  opts: DiscoveryOptions,
  scheduler: Scheduler,
  random: (size: number) => Uint8Array,
  ask: (p: ProbeSocket, q: BindingQuery) => Promise<TransactionResult>,
  server: UdpEndpoint,
): Promise<boolean> {
  const r = await ask(second, { to: server });
  const secondPublic = r.ok ? r.info.mapped : null;
  const probe = Buffer.concat([HAIRPIN_MAGIC, Buffer.from(random(8))]);
  const arrived = () => [main, second].some((p) => p.other.some((d) => d.equals(probe)));
  for (let i = 0; i < (opts.hairpinRounds ?? 3) && !arrived(); i++) {
    // Both directions at once, so each side's NAT filter is open to the other
    // by the second round; plus the main socket to its own public address.
    if (secondPublic !== null) {
      main.socket.send(probe, secondPublic);
      second.socket.send(probe, mainPublic);
    }
    main.socket.send(probe, mainPublic);
    await sleep(scheduler, opts.hairpinWaitMs ?? 250);
  }
  return arrived();
}

function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.at(scheduler.now() + ms, resolve));
}

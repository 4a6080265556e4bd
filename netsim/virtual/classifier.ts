/**
 * NAT behaviour discovery in the virtual network, after RFC 5780 (and the
 * RFC 3489 `stun` client the kernel lane uses): a binding server on a host
 * with two addresses and two ports reports the source it sees and can answer
 * from another address and/or port; a client behind the NAT compares the
 * mapped addresses it gets and which answers reach it.
 *
 * The wire format is this module's own (not STUN): request = "NSB1", 4-byte
 * transaction id, 1 flag byte (1 = change address, 2 = change port);
 * response = "NSB1", transaction id, mapped IPv4 address, mapped port.
 */
import { sameEndpoint } from '../../src/net/endpoint.js';
import { at } from '../../src/util/at.js';
import { u8 } from '../../src/util/bytes.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import type { VirtualScheduler } from './scheduler.js';
import type { FilteringBehaviour, MappingBehaviour } from './nat.js';
import type { VirtualHost } from './network.js';
import { intToIp, ipToInt } from './packet.js';
import type { VirtualUdpSocket } from './socket.js';

const MAGIC = Buffer.from('NSB1');
export const CHANGE_ADDRESS = 1;
export const CHANGE_PORT = 2;

/** The four sockets of a two-address binding server. */
export class BindingServer {
  /** [address index][port index] */
  private readonly sockets: VirtualUdpSocket[][];
  readonly addresses: readonly [string, string];
  readonly ports: readonly [number, number];
  /** Requests answered. */
  answered = 0;

  constructor(host: VirtualHost, opts: { addresses?: [string, string]; ports?: [number, number] } = {}) {
    const addresses = opts.addresses ?? [at(host.addresses, 0), at(host.addresses, 1)];
    if (addresses[1] === undefined) throw new Error(`binding server on ${host.name} needs two addresses`);
    this.addresses = addresses;
    this.ports = opts.ports ?? [3478, 3479];
    this.sockets = addresses.map((address, ai) =>
      this.ports.map((port, pi) => {
        const s = host.bind({ address, port });
        s.onMessage((data, from) => this.handle(ai, pi, data, from));
        return s;
      }),
    );
  }

  /** Primary address, primary port. */
  get primary(): UdpEndpoint {
    return { address: this.addresses[0], port: this.ports[0] };
  }

  endpoint(addressIndex: 0 | 1, portIndex: 0 | 1): UdpEndpoint {
    return { address: this.addresses[addressIndex], port: this.ports[portIndex] };
  }

  close(): void {
    for (const row of this.sockets) for (const s of row) s.close();
  }

  private handle(ai: number, pi: number, data: Buffer, from: UdpEndpoint): void {
    if (data.length !== 9 || !data.subarray(0, 4).equals(MAGIC)) return;
    const flags = u8(data, 8);
    const rai = flags & CHANGE_ADDRESS ? 1 - ai : ai;
    const rpi = flags & CHANGE_PORT ? 1 - pi : pi;
    const res = Buffer.alloc(14);
    MAGIC.copy(res, 0);
    data.copy(res, 4, 4, 8);
    res.writeUInt32BE(ipToInt(from.address), 8);
    res.writeUInt16BE(from.port, 12);
    this.answered++;
    at(at(this.sockets, rai), rpi).send(res, from);
  }
}

export interface NatClassification {
  /** No answer at all to a plain binding request. */
  udpBlocked: boolean;
  mapping?: MappingBehaviour;
  filtering?: FilteringBehaviour;
  /** The public port equals the local port (first request). */
  preservesPort?: boolean;
  /** A packet sent to our own mapped address came back. */
  hairpin?: boolean;
  /** Mapped address of the first request. */
  mapped?: UdpEndpoint;
}

export interface ClassifyOptions {
  host: VirtualHost;
  server: BindingServer;
  scheduler: VirtualScheduler;
  /** Local port of the mapping-test socket (default: ephemeral). */
  localPort?: number;
  /** Wait per attempt. Default 250 ms. */
  attemptMs?: number;
  /** Attempts per request. Default 3. */
  attempts?: number;
}

/**
 * Classifies the NAT in front of `host`. Drives the scheduler itself, so call
 * it while nothing else is driving it. Uses two sockets: one for mapping
 * (requests to three server endpoints, then a hairpin probe to its own mapped
 * address) and a fresh one for filtering (one plain request, then answers
 * from another address+port and from another port), so that the answers the
 * filtering test provokes cannot disturb the mapping test.
 */
export async function classifyNat(opts: ClassifyOptions): Promise<NatClassification> {
  const { host, server, scheduler } = opts;
  const attemptMs = opts.attemptMs ?? 250;
  const attempts = opts.attempts ?? 3;
  let txid = 1;

  const ask = async (socket: VirtualUdpSocket, to: UdpEndpoint, flags: number): Promise<UdpEndpoint | null> => {
    const id = txid++;
    let got: UdpEndpoint | null = null;
    socket.onMessage((data) => {
      if (data.length === 14 && data.subarray(0, 4).equals(MAGIC) && data.readUInt32BE(4) === id) {
        got = { address: intToIp(data.readUInt32BE(8)), port: data.readUInt16BE(12) };
      }
    });
    const req = Buffer.alloc(9);
    MAGIC.copy(req, 0);
    req.writeUInt32BE(id, 4);
    req[8] = flags;
    for (let i = 0; i < attempts && got === null; i++) {
      socket.send(req, to);
      await waitFor(scheduler, () => got !== null, attemptMs);
    }
    return got;
  };

  const m = host.bind(opts.localPort === undefined ? {} : { port: opts.localPort });
  const f = host.bind();
  try {
    const x1 = await ask(m, server.endpoint(0, 0), 0);
    if (x1 === null) return { udpBlocked: true };
    const result: NatClassification = {
      udpBlocked: false,
      mapped: x1,
      preservesPort: x1.port === m.localEndpoint().port,
    };
    const x2 = await ask(m, server.endpoint(1, 0), 0);
    if (x2 !== null && sameEndpoint(x1, x2)) {
      result.mapping = 'endpoint-independent';
    } else {
      const x3 = await ask(m, server.endpoint(1, 1), 0);
      result.mapping = x2 !== null && x3 !== null && sameEndpoint(x2, x3) ? 'address-dependent' : 'address-and-port-dependent';
    }

    // Hairpin: a packet to our own mapped address.
    let back = false;
    const probe = Buffer.from('hairpin?');
    m.onMessage((data) => {
      if (data.equals(probe)) back = true;
    });
    for (let i = 0; i < attempts && !back; i++) {
      m.send(probe, x1);
      await waitFor(scheduler, () => back, attemptMs);
    }
    result.hairpin = back;

    const y1 = await ask(f, server.endpoint(0, 0), 0);
    if (y1 === null) return { ...result, udpBlocked: true };
    if ((await ask(f, server.endpoint(0, 0), CHANGE_ADDRESS | CHANGE_PORT)) !== null) {
      result.filtering = 'endpoint-independent';
    } else if ((await ask(f, server.endpoint(0, 0), CHANGE_PORT)) !== null) {
      result.filtering = 'address-dependent';
    } else {
      result.filtering = 'address-and-port-dependent';
    }
    return result;
  } finally {
    m.close();
    f.close();
  }
}

/** Runs the scheduler until `done` or `ms` of virtual time have passed. */
export async function waitFor(scheduler: VirtualScheduler, done: () => boolean, ms: number): Promise<boolean> {
  const deadline = scheduler.now() + ms;
  if (await scheduler.runUntil(done, { maxTime: deadline })) return true;
  const rest = deadline - scheduler.now();
  if (rest > 0) await scheduler.advance(rest);
  return done();
}

/**
 * Two DirectLinks (visitor = initiator, provider = responder) on the
 * in-process network, with a tiny broker standing in for the rendezvous's
 * punch broker, a stand-in session, and sockets whose errors a test can
 * raise. Everything runs on the topology's fake clock.
 */
import { randomBytes } from 'node:crypto';
import type { ClientMessage, ServerMessage } from '../../src/control/index.js';
import type { DatagramPath } from '../../src/path/datagram-path.js';
import { Logger } from '../../src/log/logger.js';
import type { UdpEndpoint, UdpMessageHandler, UdpSocket } from '../../src/net/udp-socket.js';
import { DirectLink, type ReflexiveDiscovery } from '../../peer/direct-link.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, type Topology, type VirtualHost } from '../../netsim/virtual/index.js';

import type { Role } from '../../src/role.js';

/** A socket that passes everything through and lets the test raise an asynchronous error. */
export class ErrorableSocket implements UdpSocket {
  private errorHandler: (err: Error) => void = () => {};
  constructor(private readonly inner: UdpSocket) {
    inner.onError((err) => this.errorHandler(err));
  }
  raise(err: Error): void {
    if (!this.inner.closed) this.errorHandler(err);
  }
  send(data: Uint8Array, to: UdpEndpoint): void {
    this.inner.send(data, to);
  }
  onMessage(handler: UdpMessageHandler): void {
    this.inner.onMessage(handler);
  }
  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }
  localEndpoint(): UdpEndpoint {
    return this.inner.localEndpoint();
  }
  setTtl(ttl: number): void {
    this.inner.setTtl(ttl);
  }
  close(): void {
    this.inner.close();
  }
  get closed(): boolean {
    return this.inner.closed;
  }
}

export function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export interface LogLine {
  role: Role;
  event: string;
  fields: Record<string, unknown>;
}

export interface Peer {
  link: DirectLink;
  sockets: ErrorableSocket[];
  /** Every setPath the session got: the path's kind and previousDied. */
  paths: { kind: string; previousDied: boolean }[];
}

export interface Lab {
  topo: Topology;
  initiator: Peer;
  responder: Peer;
  logs: LogLine[];
  relay: DatagramPath;
  /** The stand-in rendezvous: set controlUp = false to refuse offers. */
  broker: { controlUp: boolean };
  events(role: Role, event: string): LogLine[];
  close(): void;
}

const fakeRelay: DatagramPath = { kind: 'relay', label: 'relay via rendezvous', mtu: 1200, send() {}, close() {} };

/** Discovery that finds no NAT: host candidates are all there is (both peers sit on the core). */
const noNat: ReflexiveDiscovery = {
  async discover() {
    return { srflx: null, nat: { udp: true, mapping: 'independent', allocation: 'preserving' }, detail: 'no NAT (test)', hops: 1 };
  },
};

/**
 * The rendezvous's part: the initiator's offer makes a punch-request for the
 * responder; once both offered for an attempt, each gets the other's
 * candidates and a start 50 ms out (messages take 5 ms).
 */
class Broker {
  private readonly offers = new Map<number, Partial<Record<Role, Extract<ClientMessage, { type: 'offer' }>>>>();
  readonly links: Partial<Record<Role, DirectLink>> = {};
  controlUp = true;
  constructor(private readonly topo: Topology) {}

  send(role: Role, m: ClientMessage): boolean {
    if (!this.controlUp) return false;
    if (m.type !== 'offer') return true;
    const entry = this.offers.get(m.attempt) ?? {};
    entry[role] = m;
    this.offers.set(m.attempt, entry);
    if (role === 'initiator' && entry.responder === undefined) {
      this.deliver('responder', { type: 'punch-request', connId: m.connId, attempt: m.attempt });
    }
    const { initiator, responder } = entry;
    if (initiator !== undefined && responder !== undefined) {
      for (const [to, other] of [['initiator', responder], ['responder', initiator]] as const) {
        const msg: ServerMessage = { type: 'punch', connId: m.connId, attempt: m.attempt, candidates: other.candidates, startInMs: 50 };
        if (other.nat) msg.nat = other.nat;
        if (other.candidates.length === 0) msg.reason = `the peer offers no direct path: ${other.reason ?? 'no candidates'}`;
        this.deliver(to, msg);
      }
    }
    return true;
  }

  private deliver(to: Role, m: ServerMessage): void {
    this.topo.scheduler.at(this.topo.scheduler.now() + 5, () => this.links[to]?.onControl(m));
  }
}

export function startLab(seed = 1, options: { startDelayMs?: number } = {}): Lab {
  const topo = buildTopology({ seed, recordTrace: false, sites: [{ name: 'a', nat: null, hosts: 2 }] });
  const rng = new SeededRandom(seed ^ 0x51);
  const random = { bytes: (n: number) => rng.bytes(n), next: () => rng.next() };
  const sessionKey = randomBytes(32);
  const logs: LogLine[] = [];
  const broker = new Broker(topo);
  const mk = (role: Role, host: VirtualHost): Peer => {
    const logger = new Logger({
      level: 'debug',
      format: 'json',
      sink: {
        write(line: string) {
          const r = JSON.parse(line) as Record<string, unknown>;
          logs.push({ role, event: String(r['event']), fields: r });
        },
      },
    });
    const sockets: ErrorableSocket[] = [];
    const paths: Peer['paths'] = [];
    const link = new DirectLink({
      connId: 'c1',
      role,
      sessionKey,
      session: {
        receive: () => true,
        setPath: (path, opts) => paths.push({ kind: path.kind, previousDied: opts?.previousDied === true }),
      },
      udp: () => {
        const s = new ErrorableSocket(host.bind({}));
        sockets.push(s);
        return s;
      },
      scheduler: topo.scheduler,
      random,
      discovery: noNat,
      sendControl: (m) => broker.send(role, m),
      logger,
      hostAddresses: () => [host.address],
      ...(role === 'initiator' && options.startDelayMs !== undefined ? { options: { startDelayMs: options.startDelayMs } } : {}),
    });
    link.relay = fakeRelay;
    broker.links[role] = link;
    return { link, sockets, paths };
  };
  const site = topo.site('a');
  const initiator = mk('initiator', site.hosts[0]!);
  const responder = mk('responder', site.hosts[1]!);
  return {
    topo,
    initiator,
    responder,
    logs,
    relay: fakeRelay,
    broker,
    events: (role, event) => logs.filter((l) => l.role === role && l.event === event),
    close() {
      initiator.link.close();
      responder.link.close();
    },
  };
}

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
import { DirectLink, type PortMapChoice, type ReflexiveDiscovery } from '../../peer/direct-link.js';
import type { SessionNatInfo } from '../../src/punch/index.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, type NatSpec, type Site, type Topology, type VirtualHost, type VirtualNat } from '../../netsim/virtual/index.js';

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
  /** The stand-in rendezvous: set controlUp = false to refuse offers; every offer it got, with the time. */
  broker: { controlUp: boolean; readonly offers: { role: Role; at: number; m: Extract<ClientMessage, { type: 'offer' }> }[] };
  /** Each peer's host, and its NAT (null: on the core). */
  host: Record<Role, VirtualHost>;
  nat: Record<Role, VirtualNat | null>;
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
  private readonly byAttempt = new Map<number, Partial<Record<Role, Extract<ClientMessage, { type: 'offer' }>>>>();
  readonly links: Partial<Record<Role, DirectLink>> = {};
  readonly offers: { role: Role; at: number; m: Extract<ClientMessage, { type: 'offer' }> }[] = [];
  controlUp = true;
  constructor(private readonly topo: Topology) {}

  send(role: Role, m: ClientMessage): boolean {
    if (!this.controlUp) return false;
    if (m.type !== 'offer') return true;
    this.offers.push({ role, at: this.topo.scheduler.now(), m });
    const entry = this.byAttempt.get(m.attempt) ?? {};
    entry[role] = m;
    this.byAttempt.set(m.attempt, entry);
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

/**
 * Discovery as a STUN server behind `site`'s NAT would report it: the NAT's
 * behaviour as given and its public address (the port is the socket's: right
 * for a port-preserving NAT, useless for a random one, as in reality).
 */
function scriptedDiscovery(site: Site, info: SessionNatInfo): ReflexiveDiscovery {
  return {
    async discover(socket) {
      return { srflx: { address: site.publicAddress, port: socket.localEndpoint().port }, nat: info, detail: 'scripted (test)', hops: 2 };
    },
  };
}

export interface LabOptions {
  startDelayMs?: number;
  /** Each peer behind its own NAT, with what its discovery reports (default: both on one site without NAT). */
  nats?: Record<Role, { nat: NatSpec; info: SessionNatInfo }>;
  /** Each peer's router port mapper (default 'none'). */
  portmap?: Partial<Record<Role, PortMapChoice>>;
}

export function startLab(seed = 1, options: LabOptions = {}): Lab {
  const nats = options.nats;
  const topo = buildTopology({
    seed,
    recordTrace: false,
    sites: nats
      ? [
          { name: 'a', nat: nats.initiator.nat },
          { name: 'b', nat: nats.responder.nat },
        ]
      : [{ name: 'a', nat: null, hosts: 2 }],
  });
  const rng = new SeededRandom(seed ^ 0x51);
  const random = { bytes: (n: number) => rng.bytes(n), next: () => rng.next() };
  const sessionKey = randomBytes(32);
  const logs: LogLine[] = [];
  const broker = new Broker(topo);
  const mk = (role: Role, host: VirtualHost, discovery: ReflexiveDiscovery): Peer => {
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
      discovery,
      sendControl: (m) => broker.send(role, m),
      logger,
      hostAddresses: () => [host.address],
      portmap: options.portmap?.[role] ?? 'none',
      ...(role === 'initiator' && options.startDelayMs !== undefined ? { options: { startDelayMs: options.startDelayMs } } : {}),
    });
    link.relay = fakeRelay;
    broker.links[role] = link;
    return { link, sockets, paths };
  };
  const a = topo.site('a');
  const b = nats ? topo.site('b') : a;
  const host: Record<Role, VirtualHost> = { initiator: a.hosts[0]!, responder: nats ? b.hosts[0]! : a.hosts[1]! };
  const initiator = mk('initiator', host.initiator, nats ? scriptedDiscovery(a, nats.initiator.info) : noNat);
  const responder = mk('responder', host.responder, nats ? scriptedDiscovery(b, nats.responder.info) : noNat);
  return {
    topo,
    initiator,
    responder,
    logs,
    relay: fakeRelay,
    broker,
    host,
    nat: { initiator: a.nat, responder: nats ? b.nat : null },
    events: (role, event) => logs.filter((l) => l.role === role && l.event === event),
    close() {
      initiator.link.close();
      responder.link.close();
    },
  };
}

import { isIP } from 'node:net';
import type { Scheduler } from '../../src/clock/scheduler.js';
import { BurrowError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { bindUdpSocket } from '../../src/net/bind.js';
import { dnsLookupAll, type HostLookup } from '../../src/net/dial-stream.js';
import { formatEndpoint } from '../../src/net/endpoint.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { UdpCounters, decodeFlowDatagram } from '../../src/udp/index.js';
import { formatHostPort, type HostPort } from '../endpoint-arg.js';
import type { DatagramSession } from './datagram-session.js';
import { SessionFlows, type UdpSessionView } from './session-flows.js';
import type { UdpSettings } from './udp-settings.js';

export interface VisitorUdpOptions {
  listen: HostPort;
  settings: UdpSettings;
  scheduler: Scheduler;
  logger: Logger;
  /** The visitor's totals across sessions. */
  counters: UdpCounters;
  lookup?: HostLookup;
}

/**
 * The visitor's side of a UDP service: one local UDP socket where
 * applications send, and per session a flow for each client address:port.
 * A client's datagram goes into the tunnel prefixed with its flow's id; a
 * reply comes back with that id and leaves from the same socket to that
 * client. The socket lives as long as the visitor; flows live with their
 * session (a new session starts with none; clients simply send again).
 */
export class VisitorUdp {
  private socket: UdpSocket | null = null;
  private current: { session: DatagramSession; flows: SessionFlows<UdpEndpoint> } | null = null;

  constructor(private readonly o: VisitorUdpOptions) {}

  async start(): Promise<UdpEndpoint> {
    const host = isIP(this.o.listen.host) !== 0 ? this.o.listen.host : await this.resolve(this.o.listen.host);
    let socket: UdpSocket;
    try {
      socket = await bindUdpSocket({ address: host, port: this.o.listen.port });
    } catch (err) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `cannot listen (UDP) on ${formatHostPort(this.o.listen)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.socket = socket;
    socket.onMessage((data, from) => this.fromClient(data, from));
    socket.onError((err) => this.o.logger.debug('udp-socket-error', { error: err.message }));
    return socket.localEndpoint();
  }

  stop(): void {
    this.current?.flows.close();
    this.current = null;
    this.socket?.close();
  }

  /** The session carrying the flows from now on (the previous one's flows have ended with it). */
  attach(session: DatagramSession, logger: Logger): void {
    this.current?.flows.close();
    const flows = new SessionFlows<UdpEndpoint>({
      session,
      settings: this.o.settings,
      scheduler: this.o.scheduler,
      logger,
      peerCounters: this.o.counters,
      onFlowClosed: () => {},
    });
    const state = { session, flows };
    this.current = state;
    const onDatagram = (d: Buffer) => this.fromPeer(flows, d);
    session.on('datagram', onDatagram);
    session.on('close', () => {
      session.off('datagram', onDatagram);
      flows.close();
      if (this.current === state) this.current = null;
    });
  }

  /** The flows of `session`, if they are this visitor's current ones. */
  view(session: unknown): UdpSessionView | null {
    return this.current !== null && this.current.session === session ? this.current.flows : null;
  }

  private fromClient(data: Buffer, from: UdpEndpoint): void {
    const cur = this.current;
    if (cur === null || cur.session.closed) {
      this.o.counters.dropped('no_path');
      return;
    }
    const key = formatEndpoint(from);
    const flow = cur.flows.table.find(key) ?? cur.flows.open(key, { address: from.address, port: from.port });
    if (flow === null) return;
    cur.flows.sendToPeer(flow, data);
  }

  private fromPeer(flows: SessionFlows<UdpEndpoint>, datagram: Buffer): void {
    const d = decodeFlowDatagram(datagram);
    if (d === null) return flows.drop('malformed');
    const flow = flows.table.get(d.flowId);
    // A reply for a flow that idled out (or a session's earlier life): nobody to give it to.
    if (flow === undefined || this.socket === null) return flows.drop('unknown_flow');
    this.socket.send(d.payload, flow.data);
    flows.delivered(flow, d.payload.length);
  }

  private async resolve(host: string): Promise<string> {
    const addresses = await (this.o.lookup ?? dnsLookupAll)(host).catch(() => []);
    const first = addresses[0];
    if (first === undefined) throw new BurrowError('ERR_INVALID_ARGUMENT', `cannot listen (UDP) on ${host}: the name does not resolve`);
    return first;
  }
}

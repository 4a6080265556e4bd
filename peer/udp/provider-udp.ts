import { isIP } from 'node:net';
import type { Scheduler } from '../../src/clock/scheduler.js';
import type { Logger } from '../../src/log/logger.js';
import { dnsLookupAll, type HostLookup } from '../../src/net/dial-stream.js';
import { sameEndpoint } from '../../src/net/endpoint.js';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { UdpEndpoint, UdpSocket } from '../../src/net/udp-socket.js';
import { UDP_FLOW_LIMITS, UdpCounters, decodeFlowDatagram, type Flow } from '../../src/udp/index.js';
import { formatHostPort, type HostPort } from '../endpoint-arg.js';
import type { DatagramSession } from './datagram-session.js';
import { SessionFlows, type UdpSessionView } from './session-flows.js';
import type { UdpSettings } from './udp-settings.js';

export interface ProviderUdpOptions {
  session: DatagramSession;
  /** The local UDP service, e.g. WireGuard at 127.0.0.1:51820. */
  target: HostPort;
  settings: UdpSettings;
  scheduler: Scheduler;
  udp: UdpSocketFactory;
  logger: Logger;
  /** The provider's totals across sessions. */
  counters: UdpCounters;
  lookup?: HostLookup;
}

/** A provider flow: its own socket towards the target, so the target's replies come back to it alone. */
interface TargetSocket {
  socket: UdpSocket | null;
  /** Datagrams that came while the socket opened (bounded). */
  pending: Buffer[];
  closed: boolean;
}

/**
 * The provider's side of one session of a UDP service: a flow id it has
 * not seen opens a flow (within the cap) with a socket of its own towards
 * the target (of the target's address family); what the target answers on
 * that socket goes back into the tunnel under the same id. Datagrams from
 * anyone but the target are ignored. Everything closes with the session.
 */
export class ProviderUdp {
  readonly flows: SessionFlows<TargetSocket>;
  private target: UdpEndpoint | null = null;
  private readonly onDatagram = (d: Buffer) => this.fromPeer(d);

  constructor(private readonly o: ProviderUdpOptions) {
    this.flows = new SessionFlows<TargetSocket>({
      session: o.session,
      settings: o.settings,
      scheduler: o.scheduler,
      logger: o.logger,
      peerCounters: o.counters,
      onFlowClosed: (flow) => {
        flow.data.closed = true;
        flow.data.pending.length = 0;
        flow.data.socket?.close();
      },
    });
    o.session.on('datagram', this.onDatagram);
    o.session.on('close', () => this.close());
  }

  get view(): UdpSessionView {
    return this.flows;
  }

  close(): void {
    this.o.session.off('datagram', this.onDatagram);
    this.flows.close();
  }

  private fromPeer(datagram: Buffer): void {
    const d = decodeFlowDatagram(datagram);
    if (d === null) return this.flows.drop('malformed');
    let flow = this.flows.table.get(d.flowId);
    if (flow === undefined) {
      const opened = this.flows.open(String(d.flowId), { socket: null, pending: [], closed: false }, d.flowId);
      if (opened === null) return;
      flow = opened;
      this.openSocket(flow);
    }
    const t = flow.data;
    if (t.socket === null || this.target === null) {
      if (t.pending.length >= UDP_FLOW_LIMITS.pendingWhileOpening) return this.flows.drop('target');
      t.pending.push(d.payload);
      return;
    }
    this.toTarget(flow, t.socket, this.target, d.payload);
  }

  private toTarget(flow: Flow<TargetSocket>, socket: UdpSocket, target: UdpEndpoint, payload: Buffer): void {
    socket.send(payload, target);
    this.flows.delivered(flow, payload.length);
  }

  private openSocket(flow: Flow<TargetSocket>): void {
    this.bind().then(
      ({ socket, target }) => {
        const t = flow.data;
        if (t.closed) return socket.close();
        t.socket = socket;
        socket.onMessage((data, from) => {
          if (sameEndpoint(from, target)) this.flows.sendToPeer(flow, data);
        });
        socket.onError((err) => this.o.logger.debug('udp-target-error', { flow: flow.id, error: err.message }));
        for (const p of t.pending.splice(0)) this.toTarget(flow, socket, target, p);
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.o.logger.warn('udp-target-error', { target: formatHostPort(this.o.target), flow: flow.id, error: message });
        for (let i = 0; i < flow.data.pending.length; i++) this.flows.drop('target');
        this.flows.closeFlow(flow, `cannot reach the target: ${message}`);
      },
    );
  }

  /** The target's address (resolved once per session) and a socket of its family. */
  private async bind(): Promise<{ socket: UdpSocket; target: UdpEndpoint }> {
    let target = this.target;
    if (target === null) {
      const { host, port } = this.o.target;
      const address = isIP(host) !== 0 ? host : (await (this.o.lookup ?? dnsLookupAll)(host))[0];
      if (address === undefined) throw new Error(`${host} does not resolve`);
      target = { address, port };
      this.target = target;
    }
    const socket = await this.o.udp(isIP(target.address) === 6 ? '::' : '0.0.0.0');
    return { socket, target };
  }
}

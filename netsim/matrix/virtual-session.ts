/**
 * One whole burrow session on the in-process lane: the real RendezvousServer,
 * Provider and Visitor classes (not the CLI processes), wired to virtual
 * hosts through the injected runtime (virtual TCP, virtual UDP sockets, the
 * VirtualScheduler, seeded randomness), and an application that moves N bytes
 * each way through the tunnel, byte-exact.
 *
 *   server host (198.51.100.2)  RendezvousServer on :7000
 *   site "a", first host        target service on 127.0.0.1:9000; Provider (--to 127.0.0.1:9000)
 *   site "b", first host        Visitor listening on 127.0.0.1:5000; the client app
 *
 * Everything runs on one fake clock from one seed: the same options give the
 * same run, event for event (network traces, log events, virtual times).
 */
import { performance } from 'node:perf_hooks';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { RandomSource } from '../../src/clock/random.js';
import type { StreamTransport } from '../../src/net/stream-transport.js';
import type { TunnelSession } from '../../src/session/index.js';
import { Provider } from '../../peer/provider.js';
import { Visitor } from '../../peer/visitor.js';
import type { SessionTuning } from '../../peer/tunnel-options.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { UdpService } from '../../rendezvous/udp-service.js';
import { SeededRandom } from '../random.js';
import { VirtualScheduler } from '../virtual-scheduler.js';
import { buildTopology, labSite, SERVER_ADDRESSES, type LabProfileName, type Topology } from '../virtual/topology.js';
import type { VirtualHost, VirtualNode } from '../virtual/network.js';
import { VirtualTcp, type TcpTraceEvent, type VirtualTcpOptions } from '../virtual/tcp.js';
import type { TraceEvent } from '../virtual/trace.js';
import { MemoryLog, type LogEvent } from './virtual-log.js';
import { payload, runClient, startTarget, type ClientResult } from './virtual-traffic.js';

export const RENDEZVOUS_PORT = 7000;
export const TARGET_PORT = 9000;
export const VISITOR_PORT = 5000;
const SERVICE = 'svc';

export interface VirtualSessionOptions {
  /** NAT profile of the provider's site and of the visitor's site. */
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  /** Bytes each way. */
  sizeBytes: number;
  /** Tunnel mode of both peers. Default 'stcp' (the relay); 'xtcp' needs the rendezvous's UDP service too (not started here yet). */
  mode?: 'stcp' | 'xtcp';
  /** Virtual-time bounds. Defaults 60 s for set-up, 300 s for the transfer. */
  setupTimeoutMs?: number;
  transferTimeoutMs?: number;
  /** Keep every UDP and TCP trace event (digests are always kept). Default false. */
  recordTrace?: boolean;
  /** Hash every TCP chunk into the trace. Default false. */
  hashPayloads?: boolean;
  tcp?: Partial<Omit<VirtualTcpOptions, 'nodes'>>;
  /** The visitor's secret when it should differ from the provider's (a wrong-secret run). */
  visitorSecret?: string;
  /** Session tuning for both peers (on top of the lane's own, see LANE_SESSION_TUNING). */
  session?: SessionTuning;
}

export interface VirtualSessionResult {
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  outcome: 'relay' | 'direct' | 'failed';
  /** The path the visitor logged for the connection. */
  path: string | null;
  /** Virtual ms: peers started → the visitor's session up (login, CPace, relay link). */
  setupMs: number | null;
  /** xtcp: virtual ms from the visitor's session to the direct path (null: none). */
  directMs: number | null;
  /** Virtual ms: the app's connect → first byte back. */
  ttfbMs: number | null;
  /** Virtual ms: the app's connect → both directions complete and verified. */
  totalMs: number | null;
  bytesUp: number;
  bytesDown: number;
  upVerified: boolean;
  downVerified: boolean;
  downSha256: string | null;
  error?: string;
  /** What the rendezvous, provider and visitor logged, on the virtual clock. */
  log: LogEvent[];
  logDigest: string;
  udpDigest: string;
  tcpDigest: string;
  /** With recordTrace. */
  udpEvents: TraceEvent[];
  tcpEvents: TcpTraceEvent[];
  /** Virtual time at the end of the run and the scheduler events it took. */
  virtualEndMs: number;
  schedulerEvents: number;
  /** Wall-clock ms the run took (not part of the fingerprint). */
  realMs: number;
  /** Connections the target service accepted (0 when the tunnel never opened a stream). */
  targetConnections: number;
  /** Virtual sockets and listeners still open after teardown (should be 0). */
  leftSockets: number;
  leftListeners: number;
}

/**
 * The in-process lane's session tuning: the mux keepalive runs on real timers
 * (src/mux/keepalive.ts), which would fire at wall-clock moments into a
 * virtual run; transfers here are short, so it is off. The session's own idle
 * timeout is on the virtual clock and stays.
 */
export const LANE_SESSION_TUNING: SessionTuning = { mux: { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 } };

function allNodes(topo: Topology): VirtualNode[] {
  const nodes: VirtualNode[] = [topo.core, topo.server];
  for (const s of Object.values(topo.sites)) {
    if (s.carrier) nodes.push(s.carrier);
    if (s.nat) nodes.push(s.nat);
    nodes.push(...s.hosts);
  }
  return nodes;
}

function udpOn(host: VirtualHost): UdpSocketFactory {
  return (address) => host.bind(address === undefined ? {} : { address });
}

interface Role {
  transport: StreamTransport;
  udp: UdpSocketFactory;
  scheduler: VirtualScheduler;
  random: RandomSource;
}

/** Runs one session; never throws for a failed transfer (the result says why), always tears down. */
export async function runVirtualSession(opts: VirtualSessionOptions): Promise<VirtualSessionResult> {
  const real0 = performance.now();
  const scheduler = new VirtualScheduler();
  const topo = buildTopology({
    seed: opts.seed,
    scheduler,
    recordTrace: opts.recordTrace ?? false,
    sites: [labSite(opts.provider, 'a'), labSite(opts.visitor, 'b')],
  });
  const tcp = new VirtualTcp(topo.network, {
    ...opts.tcp,
    nodes: allNodes(topo),
    hashPayloads: opts.hashPayloads ?? false,
    recordTrace: opts.recordTrace ?? false,
  });
  const rng = new SeededRandom(opts.seed ^ 0x5eed5eed);
  const role = (host: VirtualHost): Role => ({ transport: tcp.transport(host), udp: udpOn(host), scheduler, random: rng.fork() });
  const memory = new MemoryLog(() => scheduler.now());
  const token = rng.bytes(16).toString('hex');
  const secret = rng.bytes(16).toString('hex');
  const session: SessionTuning = {
    ...LANE_SESSION_TUNING,
    ...opts.session,
    mux: { ...LANE_SESSION_TUNING.mux, ...opts.session?.mux },
  };
  const providerHost = topo.site('a').host;
  const visitorHost = topo.site('b').host;
  const server = { host: SERVER_ADDRESSES[0], port: RENDEZVOUS_PORT };
  const up = payload('virtual-up', opts.sizeBytes);
  const down = payload('virtual-down', opts.sizeBytes);

  const mode = opts.mode ?? 'stcp';
  // The rendezvous's STUN ports in RFC 5780's layout, on both server addresses (xtcp only).
  const udpService =
    mode === 'xtcp'
      ? new UdpService(
          { primary: { address: SERVER_ADDRESSES[0], port: RENDEZVOUS_PORT }, altPort: RENDEZVOUS_PORT + 1, altAddress: SERVER_ADDRESSES[1] },
          {
            primary: topo.server.bind({ address: SERVER_ADDRESSES[0], port: RENDEZVOUS_PORT }),
            altPort: topo.server.bind({ address: SERVER_ADDRESSES[0], port: RENDEZVOUS_PORT + 1 }),
            altAddress: topo.server.bind({ address: SERVER_ADDRESSES[1], port: RENDEZVOUS_PORT }),
            altBoth: topo.server.bind({ address: SERVER_ADDRESSES[1], port: RENDEZVOUS_PORT + 1 }),
          },
          { scheduler },
        )
      : null;
  const rendezvous = new RendezvousServer({
    host: SERVER_ADDRESSES[0],
    port: RENDEZVOUS_PORT,
    token,
    logger: memory.logger({ component: 'rendezvous' }),
    ...role(topo.server),
  });
  const providerRole = role(providerHost);
  const target = await startTarget(providerRole.transport, '127.0.0.1', TARGET_PORT, down);
  const provider = new Provider({
    server,
    token,
    services: [{ name: SERVICE, secret, target: { host: '127.0.0.1', port: TARGET_PORT } }],
    logger: memory.logger({ component: 'provider' }),
    mode,
    session,
    ...providerRole,
  });
  const visitorRole = role(visitorHost);
  const visitor = new Visitor({
    server,
    token,
    service: SERVICE,
    secret: opts.visitorSecret ?? secret,
    listen: { host: '127.0.0.1', port: VISITOR_PORT },
    logger: memory.logger({ component: 'visitor' }),
    mode,
    session,
    ...visitorRole,
  });

  let setupMs: number | null = null;
  let directMs: number | null = null;
  let client: ClientResult | null = null;
  let error: string | undefined;
  let fatal: string | null = null;
  try {
    await rendezvous.listen();
    const t0 = scheduler.now();
    provider.on('fatal', (e: Error) => (fatal = `provider: ${e.message}`));
    visitor.on('fatal', (e: Error) => (fatal = `visitor: ${e.message}`));
    visitor.on('session', (_s: TunnelSession) => {
      if (setupMs === null) setupMs = scheduler.now() - t0;
    });
    provider.start();
    await visitor.start();
    const up0 = await scheduler.runUntil(() => setupMs !== null || fatal !== null, { maxTime: t0 + (opts.setupTimeoutMs ?? 60_000) });
    if (!up0 || fatal !== null) {
      error = fatal ?? `no session within ${opts.setupTimeoutMs ?? 60_000} ms (virtual)`;
      // What a failing peer sent before giving up still lands (e.g. the confirm that tells the provider of a wrong secret).
      await scheduler.advance(2_000);
    } else {
      if (mode === 'xtcp') {
        // Let the punch settle (retries included; a hopeless plan stops at once) so the connection shows where the pair ends up.
        const settledBy = scheduler.now() + 20_000;
        await scheduler.runUntil(
          () =>
            memory.events.some(
              (e) =>
                e.fields.component === 'visitor' &&
                (e.event === 'direct-up' ||
                  (e.event === 'punch-failed' && /no punch can meet|offers no direct path|UDP is blocked|offered none/.test(String(e.fields.reason)))),
            ) || fatal !== null,
          { maxTime: settledBy },
        );
        const d = memory.events.find((e) => e.fields.component === 'visitor' && e.event === 'direct-up');
        if (d && typeof d.fields.sinceSessionMs === 'number') directMs = d.fields.sinceSessionMs;
      }
      const run = runClient(visitorRole.transport, '127.0.0.1', VISITOR_PORT, up, down, () => scheduler.now());
      const limit = scheduler.now() + (opts.transferTimeoutMs ?? 300_000);
      await scheduler.runUntil(() => run.settled !== null || fatal !== null, { maxTime: limit });
      if (run.settled === null) run.abort(fatal ?? `transfer incomplete after ${opts.transferTimeoutMs ?? 300_000} ms (virtual)`);
      client = await run.result;
      if (!client.ok) error = client.error;
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    visitor.stop();
    provider.stop();
    await rendezvous.close();
    udpService?.close();
    await target.close();
    // Let FINs and resets in flight arrive (bounded).
    await scheduler.advance(5_000);
  }
  const leftSockets = tcp.openSockets;
  const leftListeners = tcp.listening;
  const conn = memory.events.find((e) => e.event === 'connection' && e.fields.component === 'visitor');
  const ok = client?.ok === true;
  const path = typeof conn?.fields.path === 'string' ? conn.fields.path : null;
  return {
    provider: opts.provider,
    visitor: opts.visitor,
    seed: opts.seed,
    outcome: !ok ? 'failed' : path?.startsWith('direct') ? 'direct' : 'relay',
    path,
    setupMs,
    directMs,
    ttfbMs: client?.ttfbMs ?? null,
    totalMs: client?.totalMs ?? null,
    bytesUp: client?.upVerified ? opts.sizeBytes : 0,
    bytesDown: client?.downVerified ? client.receivedBytes : 0,
    upVerified: client?.upVerified ?? false,
    downVerified: client?.downVerified ?? false,
    downSha256: client?.downSha256 ?? null,
    ...(error !== undefined ? { error } : {}),
    log: memory.events,
    logDigest: memory.digest,
    udpDigest: topo.network.trace.digest,
    tcpDigest: tcp.trace.digest,
    udpEvents: topo.network.trace.events,
    tcpEvents: tcp.trace.events,
    virtualEndMs: scheduler.now(),
    schedulerEvents: scheduler.eventsRun,
    realMs: performance.now() - real0,
    targetConnections: target.connections,
    leftSockets,
    leftListeners,
  };
}

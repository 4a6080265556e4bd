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
 * The pieces are built and started by VirtualSessionLab (../lab.ts).
 */
import { performance } from 'node:perf_hooks';
import type { DirectConfig } from '../../../peer/direct-setup.js';
import type { SessionTuning } from '../../../peer/tunnel-options.js';
import type { LabProfileName } from '../topology.js';
import type { TcpTraceEvent, VirtualTcpOptions } from '../tcp.js';
import type { TraceEvent } from '../trace.js';
import type { LogEvent } from '../log.js';
import type { ClientResult } from '../../matrix/duplex-check.js';
import type { PairMeasure } from '../../matrix/result.js';
import type { MeasuredVia } from '../../matrix/expected.js';
import { labPortmap, VirtualSessionLab, type VirtualLabOptions } from '../lab.js';

export { LANE_SESSION_TUNING, RENDEZVOUS_PORT, TARGET_PORT, VISITOR_PORT } from '../lab.js';

export interface VirtualSessionOptions {
  /** NAT profile of the provider's site and of the visitor's site. */
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  /** Bytes each way. */
  sizeBytes: number;
  /** Tunnel mode of both peers. Default 'stcp' (the relay); 'xtcp' also starts the rendezvous's STUN ports and waits for the punch to settle before the transfer. */
  mode?: 'stcp' | 'xtcp';
  /** Direct-path settings for both peers (xtcp). */
  direct?: DirectConfig;
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
  /** IPv6 of the peers' sites, and whether peers offer all their host's addresses (see VirtualLabOptions). Default: none. */
  ipv6?: VirtualLabOptions['ipv6'];
  offerHostAddresses?: boolean;
  /** Router port mapping on these peers' routers (see VirtualLabOptions.portmap). */
  portmap?: VirtualLabOptions['portmap'];
}

/** The matrix cell's measure (virtual ms), and what a trace or determinism check needs. */
export interface VirtualSessionResult extends PairMeasure {
  provider: LabProfileName;
  visitor: LabProfileName;
  seed: number;
  downSha256: string | null;
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

/** Runs one session; never throws for a failed transfer (the result says why), always tears down. */
export async function runVirtualSession(opts: VirtualSessionOptions): Promise<VirtualSessionResult> {
  const real0 = performance.now();
  const mode = opts.mode ?? 'stcp';
  const lab = await VirtualSessionLab.start({
    provider: opts.provider,
    visitor: opts.visitor,
    seed: opts.seed,
    mode,
    upBytes: opts.sizeBytes,
    downBytes: opts.sizeBytes,
    ...(opts.recordTrace !== undefined ? { recordTrace: opts.recordTrace } : {}),
    ...(opts.hashPayloads !== undefined ? { hashPayloads: opts.hashPayloads } : {}),
    ...(opts.tcp ? { tcp: opts.tcp } : {}),
    ...(opts.visitorSecret !== undefined ? { visitorSecret: opts.visitorSecret } : {}),
    ...(opts.session ? { session: opts.session } : {}),
    ...(opts.direct ? { direct: opts.direct } : {}),
    ...(opts.ipv6 ? { ipv6: opts.ipv6 } : {}),
    ...(opts.offerHostAddresses !== undefined ? { offerHostAddresses: opts.offerHostAddresses } : {}),
    ...(opts.portmap ? { portmap: opts.portmap } : {}),
  });
  let directMs: number | null = null;
  let punchFailure: string | undefined;
  let punchAttempts: number | undefined;
  let client: ClientResult | null = null;
  let error: string | undefined;
  try {
    const setupTimeout = opts.setupTimeoutMs ?? 60_000;
    if (!(await lab.waitSession(setupTimeout))) {
      error = lab.fatal ?? `no session within ${setupTimeout} ms (virtual)`;
      // What a failing peer sent before giving up still lands (e.g. the confirm that tells the provider of a wrong secret).
      await lab.scheduler.advance(2_000);
    } else {
      if (mode === 'xtcp') {
        // Let the punch settle (retries included; a hopeless plan stops at once) so the connection shows where the pair ends up.
        directMs = await lab.waitPunchSettled(20_000);
        const fails = lab.log('visitor', 'punch-failed');
        const last = fails[fails.length - 1];
        if (last !== undefined) {
          punchFailure = `${String(last.fields.reason ?? '')}${typeof last.fields.timeline === 'string' ? last.fields.timeline : ''}`;
          punchAttempts = fails.length;
        }
      }
      client = await lab.requestToEnd(opts.transferTimeoutMs ?? 300_000);
      if (!client.ok) error = client.error;
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const { leftSockets, leftListeners } = await lab.teardown();
  const conn = lab.log('visitor', 'connection')[0];
  const ok = client?.ok === true;
  const path = typeof conn?.fields.path === 'string' ? conn.fields.path : null;
  const outcome = !ok ? 'failed' : path?.startsWith('direct') ? 'direct' : 'relay';
  const portmap = labPortmap(lab.opts) === undefined ? undefined : portmapSummary(lab);
  return {
    provider: opts.provider,
    visitor: opts.visitor,
    seed: opts.seed,
    outcome,
    path,
    ...(outcome === 'direct' ? { via: directVia(lab) } : {}),
    ...(portmap !== undefined ? { portmap } : {}),
    setupMs: lab.setupMs,
    directMs,
    ...(punchFailure !== undefined ? { punchFailure, punchAttempts: punchAttempts ?? 0 } : {}),
    ttfbMs: client?.ttfbMs ?? null,
    totalMs: client?.totalMs ?? null,
    bytesUp: client?.upVerified ? opts.sizeBytes : 0,
    bytesDown: client?.downVerified ? client.receivedBytes : 0,
    upVerified: client?.upVerified ?? false,
    downVerified: client?.downVerified ?? false,
    downSha256: client?.downSha256 ?? null,
    ...(error !== undefined ? { error } : {}),
    log: lab.memory.events,
    logDigest: lab.memory.digest,
    udpDigest: lab.topo.network.trace.digest,
    tcpDigest: lab.tcp.trace.digest,
    udpEvents: lab.topo.network.trace.events,
    tcpEvents: lab.tcp.trace.events,
    virtualEndMs: lab.scheduler.now(),
    schedulerEvents: lab.scheduler.eventsRun,
    realMs: performance.now() - real0,
    targetConnections: lab.target?.connections ?? 0,
    leftSockets,
    leftListeners,
  };
}

/** 'mapped' when either peer locked the other's router mapping (a `mapped` candidate), else 'punch' (as the kernel matrix reads its peers' logs). */
function directVia(lab: VirtualSessionLab): MeasuredVia {
  const ups = [...lab.log('provider', 'direct-up'), ...lab.log('visitor', 'direct-up')];
  return ups.some((e) => e.fields.candidate === 'mapped') ? 'mapped' : 'punch';
}

/** What the peers' port mapping said: each peer's first mapping, else its last `portmap` event. */
function portmapSummary(lab: VirtualSessionLab): string | undefined {
  const said = (['provider', 'visitor'] as const).flatMap((role) => {
    const all = lab.log(role, 'portmap');
    const e = all.find((x) => x.fields.outcome === 'mapped') ?? all[all.length - 1];
    if (e === undefined) return [];
    const detail = e.fields.outcome === 'mapped' ? `by ${String(e.fields.protocol)} ${String(e.fields.external)}` : String(e.fields.reason ?? '');
    return [`${role}: ${String(e.fields.outcome)} ${detail}`.trim()];
  });
  return said.length > 0 ? said.join('; ') : undefined;
}

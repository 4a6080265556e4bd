/**
 * A provider's or visitor's Prometheus metrics, read at each scrape from its
 * live sessions (path, bytes, round trip, port mappings) and from the counts
 * it keeps across sessions (PeerCounters). One registry per role in a
 * process (a config file's several [[provide]] entries share the provider's),
 * never prom-client's global one. Labels are small fixed sets: no session
 * id, address or service name.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { PortMapProtocol } from '../src/portmap/index.js';
import { UDP_DROP_REASONS } from '../src/udp/index.js';
import type { PeerCounters } from './peer-counters.js';
import type { SessionView } from './session-view.js';

export type PeerRoleName = 'provider' | 'visitor';

/** What the metrics read of one peer: Provider and Visitor have both. */
export interface PeerMetricsSource {
  readonly counters: PeerCounters;
  sessionViews(): readonly SessionView[];
}

type SessionPath = 'relay' | 'direct_lan' | 'direct_internet' | 'none';
type Family = 'ipv4' | 'ipv6';

/** Every (path, family) the sessions gauge shows, so a series exists at 0 before its first session. */
const PATH_SERIES: readonly { path: SessionPath; family?: Family }[] = [
  { path: 'relay' },
  { path: 'none' },
  { path: 'direct_lan', family: 'ipv4' },
  { path: 'direct_lan', family: 'ipv6' },
  { path: 'direct_internet', family: 'ipv4' },
  { path: 'direct_internet', family: 'ipv6' },
];
const PROTOCOLS: readonly PortMapProtocol[] = ['natpmp', 'pcp', 'upnp'];

/** Where a session's packets go now: the relay, a direct path (LAN or internet, by family), or nowhere yet. */
export function sessionPath(v: SessionView): { path: SessionPath; family?: Family } {
  const kind = v.session.currentPath?.kind;
  if (kind === undefined) return { path: 'none' };
  if (kind !== 'direct') return { path: 'relay' };
  // describePath's words: 'direct LAN', 'direct internet', each with ' IPv6' for that family.
  const words = v.setup.directKind ?? 'direct internet';
  return { path: words.includes('LAN') ? 'direct_lan' : 'direct_internet', family: words.endsWith('IPv6') ? 'ipv6' : 'ipv4' };
}

export function peerRegistry(role: PeerRoleName, peers: readonly PeerMetricsSource[]): Registry {
  const registry = new Registry();
  const registers = [registry];
  const name = (what: string) => `burrow_${role}_${what}`;
  const views = (): SessionView[] => peers.flatMap((p) => p.sessionViews());
  const counted = (pick: (c: PeerCounters) => number): number => peers.reduce((n, p) => n + pick(p.counters), 0);

  new Gauge({
    name: name('sessions'),
    help: 'Tunnel sessions running now, by path (relay, direct_lan, direct_internet, or none yet) and, on a direct path, address family.',
    labelNames: ['path', 'family'] as const,
    registers,
    collect() {
      const n = new Map<string, number>();
      const key = (s: { path: SessionPath; family?: Family }) => `${s.path}/${s.family ?? ''}`;
      for (const v of views()) n.set(key(sessionPath(v)), (n.get(key(sessionPath(v))) ?? 0) + 1);
      for (const s of PATH_SERIES) this.set(s.family ? { path: s.path, family: s.family } : { path: s.path }, n.get(key(s)) ?? 0);
    },
  });
  new Counter({
    name: name('sessions_opened_total'),
    help: 'Tunnel sessions set up since start.',
    registers,
    collect() {
      this.reset();
      this.inc(counted((c) => c.sessionsOpened));
    },
  });
  new Counter({
    name: name('bytes_total'),
    help: 'Application bytes carried through the tunnel (stream payloads, before encryption), by direction.',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      let sent = counted((c) => c.closedBytesSent);
      let received = counted((c) => c.closedBytesReceived);
      for (const v of views()) {
        const m = v.session.mux.stats;
        sent += m.dataBytesOut;
        received += m.dataBytesIn;
      }
      this.reset();
      this.inc({ direction: 'sent' }, sent);
      this.inc({ direction: 'received' }, received);
    },
  });
  new Gauge({
    name: name('rtt_seconds'),
    help: 'Smoothed round trip (KCP) of the sessions on a direct path, averaged over them; absent while none has measured one (the relay is TCP: no KCP round trip there).',
    labelNames: ['path'] as const,
    registers,
    collect() {
      this.reset();
      const sums = new Map<'direct', { total: number; n: number }>();
      for (const v of views()) {
        const kind = v.session.currentPath?.kind;
        const rtt = v.session.srttMs;
        if (kind !== 'direct' || rtt <= 0) continue;
        const s = sums.get(kind) ?? { total: 0, n: 0 };
        sums.set(kind, { total: s.total + rtt, n: s.n + 1 });
      }
      for (const [path, s] of sums) this.set({ path }, s.total / s.n / 1000);
    },
  });
  new Counter({
    name: name('punches_total'),
    help: 'Punch attempts, by outcome: direct (a path locked), failed (probed, no answer), not_run (ended before probing: no candidates, or a NAT pair that cannot punch).',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'direct' }, counted((c) => c.punchesDirect));
      this.inc({ outcome: 'failed' }, counted((c) => c.punchesFailed));
      this.inc({ outcome: 'not_run' }, counted((c) => c.punchesNotRun));
    },
  });
  new Counter({
    name: name('repunches_total'),
    help: 'Punch attempts after a session\'s first: retries after a failure, and new punches after a direct path died.',
    registers,
    collect() {
      this.reset();
      this.inc(counted((c) => c.repunches));
    },
  });
  new Counter({
    name: name('path_deaths_total'),
    help: 'Direct paths that stopped answering (the session went back to the relay and punches again).',
    registers,
    collect() {
      this.reset();
      this.inc(counted((c) => c.pathDeaths));
    },
  });
  new Gauge({
    name: name('port_mappings'),
    help: 'Router port mappings held now for sessions\' UDP sockets, by protocol.',
    labelNames: ['protocol'] as const,
    registers,
    collect() {
      const n = new Map<PortMapProtocol, number>();
      for (const v of views()) for (const p of v.setup.direct?.portMappings ?? []) n.set(p, (n.get(p) ?? 0) + 1);
      for (const p of PROTOCOLS) this.set({ protocol: p }, n.get(p) ?? 0);
    },
  });
  new Counter({
    name: name('udp_datagrams_total'),
    help: 'UDP service datagrams carried through the tunnel, by direction (sent: into the tunnel; received: out of it to a client or the target).',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, counted((c) => c.udp.counts.datagramsSent));
      this.inc({ direction: 'received' }, counted((c) => c.udp.counts.datagramsReceived));
    },
  });
  new Counter({
    name: name('udp_bytes_total'),
    help: 'UDP service payload bytes carried through the tunnel (before the flow header and encryption), by direction.',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, counted((c) => c.udp.counts.bytesSent));
      this.inc({ direction: 'received' }, counted((c) => c.udp.counts.bytesReceived));
    },
  });
  new Counter({
    name: name('udp_drops_total'),
    help: 'UDP service datagrams dropped, by reason: too_big (larger than the path carries), no_path, congested (relay back-pressure), closed, flow_cap (new flow refused), unknown_flow (a reply for a flow gone), malformed, target (the provider could not hand it to the target).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of UDP_DROP_REASONS) this.inc({ reason }, counted((c) => c.udp.drops[reason]));
    },
  });
  new Gauge({
    name: name('udp_flows'),
    help: 'UDP flows open now (a client address:port on the visitor; a target socket on the provider).',
    registers,
    collect() {
      this.set(counted((c) => c.udp.flows));
    },
  });
  return registry;
}

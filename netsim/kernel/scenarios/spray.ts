/**
 * Scenario: a third host on the outside (no NAT) sprays forged and random
 * packets at the peers' public mappings and at the rendezvous while a
 * transfer runs. It learns the mappings the way an observer on the path
 * would: from the NATs' conntrack tables (the public ports the peers' flows
 * use, TCP and UDP). The provider sits behind a port-restricted cone (site
 * A), the visitor behind a full cone (site F): whatever UDP mapping the
 * visitor opens (xtcp), the spray is delivered to its socket, forged 0xb1
 * session packets and 0xb2 probes included. stcp opens no UDP mapping, so
 * there nothing of it gets through either NAT.
 *
 * It cannot forge source addresses (no raw sockets from Node): a spoofed,
 * in-window RST from an on-path attacker would end any TCP connection and is
 * out of scope here.
 */
import { at } from '../../../src/util/at.js';
import { listConntrack } from '../conntrack.js';
import { countFrom, readCounts, type SourceCounts } from '../counters.js';
import type { LabNode, NatSite } from '../lab.js';
import { events, startTransfer, type ScenarioMode } from './procs.js';
import { recoverWithin, type Recovery, type Verdict } from './observe.js';
import { RV_PORT, type ScenarioLab } from './scenario-lab.js';
import { SPRAYER_SOURCE, type SprayStats } from './sprayer.js';
import type { StreamReport } from './stream.js';
import { SCENARIOS, expectationTexts, faultOf } from '../../scenarios/spec.js';

export interface SprayOptions {
  /** Bytes each way. */
  size: number;
  /** UDP datagrams per second. Default: the spec's. */
  udpPps?: number;
  /** TCP connection attempts in flight. Default 8. */
  tcpInFlight?: number;
  /** Ports either side of each learned public port that get UDP too. Default: the spec's. */
  portSpread?: number;
  transferTimeoutMs?: number;
}

export interface SprayResult {
  scenario: 'spray';
  mode: ScenarioMode;
  size: number;
  path: string;
  /** What the attacker aimed at, e.g. "udp:203.0.113.10:40984-41016". */
  targets: string[];
  sprayed: SprayStats;
  sprayMs: number;
  transfer: StreamReport;
  /** Packets from the attacker counted where they entered each namespace (natF: the visitor's full cone). */
  arrived: { natA: SourceCounts; natF: SourceCounts; server: SourceCounts };
  /** …and at the peer hosts behind the NATs: what reached the peers (udpToPorts: their burrow process's UDP sockets). */
  reachedPeers: { provider: SourceCounts; visitor: SourceCounts };
  /** UDP ports the provider and visitor processes had bound when the spray began. */
  sockets: { provider: number[]; visitor: number[] };
  /** Processes that were not running after the spray (should be none). */
  died: string[];
  /** Log lines the rendezvous wrote during the spray (refusals are rate-limited). */
  rendezvousLogLines: number;
  /** A new connection after the spray. */
  after: Recovery;
  verdict: Verdict;
}

export const SPRAY_EXPECTATION: Record<ScenarioMode, string> = expectationTexts('spray');
const SPEC = SCENARIOS.spray;
const FAULT = faultOf('spray', 'spray');

/** UDP ports bound by process `pid` in a host's namespace (`ss -uanp`). */
async function udpPortsOf(sl: ScenarioLab, host: LabNode, pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const r = await sl.lab.exec(host, 'ss', ['-H', '-u', '-a', '-n', '-p']);
  const ports: number[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /\S+:(\d+)\s+\S+\s+users:\(\((.*)\)\)/.exec(line);
    if (m && new RegExp(`pid=${pid},`).test(at(m, 2))) ports.push(Number(m[1]));
  }
  return ports;
}

/** The public ports (by protocol) a NAT uses for its hosts' flows, from its conntrack table. */
async function publicPorts(sl: ScenarioLab, site: NatSite): Promise<{ tcp: number[]; udp: number[] }> {
  const inside = new Set(site.hosts.map((h) => h.ip));
  const entries = await listConntrack(sl.lab, site.router);
  const pick = (proto: string): number[] => [
    ...new Set(entries.filter((e) => e.proto === proto && inside.has(e.orig.src) && e.reply.dst === site.publicIp).map((e) => e.reply.dport)),
  ];
  return { tcp: pick('tcp'), udp: pick('udp') };
}

export async function sprayScenario(sl: ScenarioLab, o: SprayOptions): Promise<SprayResult> {
  const { lab } = sl;
  const attacker = lab.outside;
  const pair = await sl.startPair(sl.siteFull);
  try {
    const spread = o.portSpread ?? FAULT.portSpread;
    const targets: string[] = [];
    for (const site of [sl.siteA, sl.siteFull]) {
      const ports = await publicPorts(sl, site);
      for (const p of [...ports.tcp, ...ports.udp]) {
        targets.push(`udp:${site.publicIp}:${Math.max(1, p - spread)}-${Math.min(65535, p + spread)}`);
      }
      // A UDP mapping itself gets a target of its own: most of what hits it is forged 0xb1/0xb2 packets.
      for (const p of ports.udp) targets.push(`udp:${site.publicIp}:${p}-${p}`);
      for (const p of ports.tcp) targets.push(`tcp:${site.publicIp}:${p}`);
    }
    targets.push(`udp:${lab.server.ip}:${RV_PORT}`, `tcp:${lab.server.ip}:${RV_PORT}`);
    const counted: LabNode[] = [sl.siteA.router, sl.siteFull.router, lab.server, at(sl.siteA.hosts, 0), pair.visitorHost];
    const sockets = {
      provider: await udpPortsOf(sl, at(sl.siteA.hosts, 0), pair.provider.pid),
      visitor: await udpPortsOf(sl, pair.visitorHost, pair.visitor.pid),
    };
    const portsAt = [[], [], [], sockets.provider, sockets.visitor];
    for (const [i, n] of counted.entries()) await countFrom(lab, n, attacker.ip, portsAt[i]);

    const rvLinesBefore = events(sl.rendezvous).length;
    const timeout = o.transferTimeoutMs ?? 60_000;
    const sprayer = lab.spawn(attacker, process.execPath, [
      '-e', SPRAYER_SOURCE, String(timeout + 10_000), String(o.udpPps ?? FAULT.udpPerSecond), String(o.tcpInFlight ?? 8), ...targets,
    ]);
    await sprayer.waitFor(/"ready":true/, 10_000);
    const sprayStart = Date.now();
    const transfer = await startTransfer(lab, pair.visitorHost, pair.visitPort, o.size, o.size, timeout).result();
    await sprayer.stop(3000);
    const sprayMs = Date.now() - sprayStart;
    const line = sprayer.stdout().split('\n').find((l) => l.startsWith('{"stats"'));
    const sprayed = line ? (JSON.parse(line) as { stats: SprayStats }).stats : ({} as SprayStats);
    const rendezvousLogLines = events(sl.rendezvous).length - rvLinesBefore;

    const [natA, natF, server, provider, visitor] = await Promise.all(counted.map((n) => readCounts(lab, n)));
    const died = Object.entries({ rendezvous: sl.rendezvous, provider: pair.provider, visitor: pair.visitor, target: sl.target })
      .filter(([, p]) => !p.running)
      .map(([name]) => name);
    const after = await recoverWithin(sl, pair, Date.now(), 15_000);

    const failures: string[] = [];
    if (!transfer.ok) failures.push(`the transfer failed under the spray (${transfer.error})`);
    if (died.length) failures.push(`not running after the spray: ${died.join(', ')}`);
    if (!after.ok) failures.push(`no new connection worked after the spray (${after.lastError})`);
    if (!sprayed.udpSent || !sprayed.tcpAttempts) failures.push('the attacker sent nothing (the scenario did not test anything)');
    if (sl.mode === 'xtcp' && visitor!.udpToPorts.packets === 0) {
      failures.push(`no sprayed datagram reached the visitor's UDP sockets (${sockets.visitor.join(', ') || 'none'}): the direct path was not tested`);
    }
    return {
      scenario: 'spray',
      mode: sl.mode,
      size: o.size,
      path: pair.path,
      targets,
      sprayed,
      sprayMs,
      transfer,
      arrived: { natA: natA!, natF: natF!, server: server! },
      reachedPeers: { provider: provider!, visitor: visitor! },
      sockets,
      died,
      rendezvousLogLines,
      after,
      verdict: { ok: failures.length === 0, expected: SPRAY_EXPECTATION[sl.mode], failures },
    };
  } finally {
    await pair.stop();
  }
}

export function describeSpray(r: SprayResult): string[] {
  const c = (x: SourceCounts): string => `udp ${x.udp.packets}, tcp ${x.tcp.packets}`;
  const s = r.sprayed;
  return [
    `attacker sprayed for ${r.sprayMs} ms: ${s.udpSent} UDP datagrams (${(s.udpBytes / 1e6).toFixed(1)} MB), ${s.tcpAttempts} TCP connection attempts ` +
      `(${s.tcpConnected} accepted, ${s.tcpRefused} refused, ${s.tcpReset} reset, ${s.tcpTimedOut} timed out) at ${r.targets.length} targets`,
    `arrived: provider's NAT (port-restricted) ${c(r.arrived.natA)}; visitor's NAT (full cone) ${c(r.arrived.natF)}; rendezvous host ${c(r.arrived.server)}; ` +
      `reached the peers: provider host ${c(r.reachedPeers.provider)}, visitor host ${c(r.reachedPeers.visitor)}; ` +
      `of it to burrow's UDP sockets: provider ${r.reachedPeers.provider.udpToPorts.packets} (ports ${r.sockets.provider.join(',') || 'none'}), ` +
      `visitor ${r.reachedPeers.visitor.udpToPorts.packets} (ports ${r.sockets.visitor.join(',') || 'none'})`,
    `path ${r.path}; transfer ${r.transfer.ok ? `byte-exact in ${r.transfer.totalMs?.toFixed(0)} ms` : `FAILED (${r.transfer.error})`}; ` +
      `${r.died.length ? `DIED: ${r.died.join(', ')}` : 'every process up'}; rendezvous logged ${r.rendezvousLogLines} lines; ` +
      `new connection afterwards ${r.after.ok ? 'ok' : 'FAILED'}`,
  ];
}

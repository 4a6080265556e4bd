/**
 * `npm run bench -- udp` (issue 13): UDP services through burrow.
 *
 * iperf3 -u through the tunnel (iperf3's TCP control connection through a TCP
 * service, its UDP data through a UDP service on the same port numbers; a
 * fresh one-off iperf3 server per run), on
 * loopback (every role in one lab namespace, so no root-less run: the kernel
 * lane builds it) and behind two kernel-lane port-restricted NATs: loss at
 * 200 Mbit/s offered on the direct path, at 100 Mbit/s on the relay, each
 * next to iperf3 -u without burrow measured in the same run. Then one-way
 * added latency: UDP ping-pong through a UDP service against TCP ping-pong
 * through a TCP service, same place, same mode, same run, and both against
 * the same ping-pong without burrow. Targets: loss ≤ 1 %; UDP's added latency
 * within 1 ms of TCP's.
 */
import { at } from '../src/util/at.js';
import type { Lab, LabNode } from '../netsim/kernel/lab.js';
import type { UdpPair } from '../netsim/kernel/udp-pair.js';
import { events } from '../netsim/kernel/cli-process.js';
import { sleep } from '../netsim/kernel/exec.js';

const IPERF_PORT = 5201;
const VISIT_PORT = 25_201;
const UDP_ECHO_PORT = 7801;
const TCP_ECHO_PORT = 7802;
const DATAGRAM = 1200;
const SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 5);
const PINGS = 2000;
const RATE = { xtcp: '200M', stcp: '100M' } as const;
/** Lower offered rates tried after the target one, to show what the path carries without loss here. */
const LADDER = ['50M', '20M'] as const;

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

interface IperfUdp {
  sentMbps: number;
  sentPackets: number;
  /** Packets that reached the iperf3 server. */
  deliveredPackets: number;
  deliveredMbps: number;
  /**
   * 1 − delivered / sent. iperf3's own lost_percent counts gaps only up to
   * the highest sequence number the server saw, so it understates a sender
   * that is dropped from mid-test on.
   */
  lossPercent: number;
  jitterMs: number;
  /** The client's UDP port: the visitor's flow key. */
  localPort: number | null;
}

/** An iperf3 run through burrow with the kernel's receive-buffer drops on each side during it. */
interface Traced extends IperfUdp {
  rate: string;
  /** Drops on each side; on loopback both sides are one namespace and count the same drops. */
  rcvbuf: { laptop: number; home: number; oneNamespace: boolean };
}

interface IperfSum {
  bits_per_second: number;
  packets: number;
  lost_packets: number;
  jitter_ms: number;
}

/** Where iperf3's server runs: a fresh one-off server (`-s -1`) per run, so no run inherits the state of an overloaded one. */
interface IperfServer {
  node: LabNode;
  ip: string;
}

/**
 * One iperf3 -u run against a fresh server, after a pause that lets the
 * tunnel drain the last run; retried once when iperf3 fails outright.
 */
async function iperfUdp(lab: Lab, server: IperfServer, client: LabNode, ip: string, port: number, rate: string): Promise<IperfUdp | string> {
  let first = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    await sleep(attempt === 0 ? 2000 : 3000);
    const srv = lab.spawn(server.node, 'iperf3', ['-s', '-1', '--forceflush', '-B', server.ip, '-p', String(IPERF_PORT)]);
    try {
      await srv.waitFor(/Server listening/, 10_000);
      const r = await iperfOnce(lab, client, ip, port, rate);
      if (typeof r !== 'string') return r;
      if (attempt === 1) return `${r} (and before: ${first})`;
      first = r;
    } finally {
      await srv.stop(1000);
    }
  }
  return first;
}

async function iperfOnce(lab: Lab, client: LabNode, ip: string, port: number, rate: string): Promise<IperfUdp | string> {
  const r = await lab
    .exec(client, 'iperf3', ['-c', ip, '-p', String(port), '-u', '-b', rate, '-l', String(DATAGRAM), '-t', String(SECONDS), '-J'], { timeoutMs: (SECONDS + 30) * 1000 })
    .catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
  if (typeof r === 'string') return `iperf3 failed: ${r.slice(0, 200)}`;
  try {
    const j = JSON.parse(r.stdout) as { start?: { connected?: { local_port?: number }[] }; end?: { sum_sent?: IperfSum; sum_received?: IperfSum }; error?: string };
    const [tx, rx] = [j.end?.sum_sent, j.end?.sum_received];
    if (!tx || !rx) return `iperf3: ${j.error ?? 'no sender/receiver summary'}`;
    const delivered = rx.packets - rx.lost_packets;
    return {
      sentMbps: tx.bits_per_second / 1e6,
      sentPackets: tx.packets,
      deliveredPackets: delivered,
      deliveredMbps: rx.bits_per_second / 1e6,
      lossPercent: tx.packets > 0 ? (100 * (tx.packets - delivered)) / tx.packets : NaN,
      jitterMs: rx.jitter_ms,
      localPort: j.start?.connected?.[0]?.local_port ?? null,
    };
  } catch {
    return `iperf3 printed no JSON: ${r.stdout.slice(0, 200)}`;
  }
}

const iperfLine = (label: string, rate: string, r: IperfUdp | string, target = false): string =>
  typeof r === 'string'
    ? `${label.padEnd(44)} ${rate}bit/s offered: ${r}`
    : `${label.padEnd(44)} ${rate}bit/s offered: sent ${fmt(r.sentMbps, 1)} Mbit/s (${r.sentPackets} datagrams), delivered ${r.deliveredPackets} ` +
      `(${fmt(r.deliveredMbps, 1)} Mbit/s), loss ${fmt(r.lossPercent)} %, jitter ${fmt(r.jitterMs, 3)} ms` +
      (target ? `   (target loss ≤ 1 %: ${r.lossPercent <= 1 ? 'met' : 'NOT met'})` : '');

/**
 * Where one iperf3 run's datagrams went, from the peers' udp-flow-closed log
 * lines (written when the pair stops): the visitor's flow is keyed by the
 * client's address, the provider's by the same flow id.
 */
function whereLost(data: UdpPair, r: Traced): string {
  const closed = (p: UdpPair['visitor']) => events(p).filter((e) => e.event === 'udp-flow-closed');
  const v = closed(data.visitor).find((e) => e.key === `127.0.0.1:${r.localPort}`);
  const p = v ? closed(data.provider).find((e) => e.flow === v.flow) : undefined;
  const n = (x: unknown): string => (typeof x === 'number' ? String(x) : '?');
  const full = r.rcvbuf.oneNamespace ? `${r.rcvbuf.home} (one namespace)` : `visitor side ${r.rcvbuf.laptop}, provider side ${r.rcvbuf.home}`;
  return (
    `${r.rate}: iperf3 sent ${r.sentPackets} datagrams; the visitor forwarded ${n(v?.datagramsSent)} into the tunnel, the provider took ${n(p?.datagramsReceived)} ` +
    `out of it, the server counted ${r.deliveredPackets}; full receive buffers dropped ${full}`
  );
}

/** UDP datagrams the kernel dropped because a socket's receive buffer was full, in the node's namespace (/proc/net/snmp). */
async function rcvbufErrors(lab: Lab, node: LabNode): Promise<number> {
  const lines = (await lab.exec(node, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [head, vals] = [lines[0]?.split(/\s+/) ?? [], lines[1]?.split(/\s+/) ?? []];
  const i = head.indexOf('RcvbufErrors');
  return i > 0 ? Number(vals[i] ?? NaN) : NaN;
}

interface Place {
  label: string;
  home: LabNode;
  laptop: LabNode;
  /** Where the no-burrow baseline's servers run (reachable from laptop without burrow). */
  baselineHost: LabNode;
  baselineIp: string;
}

async function startEchoes(lab: Lab, node: LabNode, ip: string): Promise<void> {
  const { startUdpEcho } = await import('../netsim/kernel/udp-traffic.js');
  const { PROBE_SOURCE } = await import('../netsim/kernel/probe.js');
  await startUdpEcho(lab, node, ip, UDP_ECHO_PORT);
  const tcpEcho = lab.spawn(node, process.execPath, ['-e', PROBE_SOURCE, 'tcp-echo', ip, String(TCP_ECHO_PORT), '600000']);
  await tcpEcho.waitFor(/"ready":true/, 10_000);
}

async function runPlace(lab: Lab, place: Place): Promise<void> {
  const { startRendezvous, startUdpPair } = await import('../netsim/kernel/udp-pair.js');
  const { pingPong } = await import('../netsim/kernel/udp-traffic.js');
  const homeIp = place.home === place.laptop ? '127.0.0.1' : place.home.ip;
  await startEchoes(lab, place.home, homeIp);
  if (place.baselineHost !== place.home) await startEchoes(lab, place.baselineHost, place.baselineIp);
  const rv = await startRendezvous(lab);

  console.log(`\n### ${place.label}`);
  // Without burrow: the same iperf3 and ping-pongs straight to the baseline host.
  for (const rate of new Set([RATE.xtcp, RATE.stcp])) {
    console.log(iperfLine('no burrow (iperf3 -u straight)', rate, await iperfUdp(lab, { node: place.baselineHost, ip: place.baselineIp }, place.laptop, place.baselineIp, IPERF_PORT, rate)));
  }
  const baseUdp = await pingPong(lab, place.laptop, 'udp', place.baselineIp, UDP_ECHO_PORT, PINGS, 64);
  const baseTcp = await pingPong(lab, place.laptop, 'tcp', place.baselineIp, TCP_ECHO_PORT, PINGS, 64);
  console.log(`${'no burrow, 64 B ping-pong RTT'.padEnd(44)} UDP p50 ${fmt(baseUdp.p50Ms, 3)} ms p99 ${fmt(baseUdp.p99Ms, 3)} ms   TCP p50 ${fmt(baseTcp.p50Ms, 3)} ms p99 ${fmt(baseTcp.p99Ms, 3)} ms`);

  for (const mode of ['xtcp', 'stcp'] as const) {
    const pairs: UdpPair[] = [];
    try {
      const start = async (proto: 'udp' | 'tcp', port: number, visit: number) => {
        const p = await startUdpPair(lab, { rendezvous: rv, mode, proto, providerHost: place.home, to: `${homeIp}:${port}`, visitorHost: place.laptop, listen: `127.0.0.1:${visit}` });
        pairs.push(p);
        return p;
      };
      // iperf3's control connection (TCP) and its data (UDP) on the same port number, as iperf3 expects.
      const data = await start('udp', IPERF_PORT, VISIT_PORT);
      await start('tcp', IPERF_PORT, VISIT_PORT);
      const udpEcho = await start('udp', UDP_ECHO_PORT, VISIT_PORT + 1);
      const tcpEcho = await start('tcp', TCP_ECHO_PORT, VISIT_PORT + 2);
      const label = `burrow ${mode === 'xtcp' ? 'direct' : 'relay'} (${mode}, path ${data.path})`;
      const runs: Traced[] = [];
      for (const rate of [RATE[mode], ...LADDER]) {
        const before = [await rcvbufErrors(lab, place.laptop), await rcvbufErrors(lab, place.home)] as const;
        const r = await iperfUdp(lab, { node: place.home, ip: homeIp }, place.laptop, '127.0.0.1', VISIT_PORT, rate);
        const rcvbuf = {
          laptop: (await rcvbufErrors(lab, place.laptop)) - before[0],
          home: (await rcvbufErrors(lab, place.home)) - before[1],
          oneNamespace: place.laptop === place.home,
        };
        console.log(iperfLine(rate === RATE[mode] ? label : '', rate, r, rate === RATE[mode]));
        if (typeof r !== 'string') runs.push({ ...r, rate, rcvbuf });
      }
      const u = await pingPong(lab, place.laptop, 'udp', '127.0.0.1', VISIT_PORT + 1, PINGS, 64);
      const t = await pingPong(lab, place.laptop, 'tcp', '127.0.0.1', VISIT_PORT + 2, PINGS, 64);
      const addedU = (u.p50Ms - baseUdp.p50Ms) / 2;
      const addedT = (t.p50Ms - baseTcp.p50Ms) / 2;
      console.log(
        `${`${label}, 64 B ping-pong`.padEnd(44)} UDP service p50 ${fmt(u.p50Ms, 3)} ms (p99 ${fmt(u.p99Ms, 3)})   TCP service p50 ${fmt(t.p50Ms, 3)} ms (p99 ${fmt(t.p99Ms, 3)}) [${udpEcho.path} / ${tcpEcho.path}]`,
      );
      console.log(
        `${''.padEnd(44)} one-way added (p50): UDP ${fmt(addedU, 3)} ms, TCP ${fmt(addedT, 3)} ms; UDP − TCP ${fmt(addedU - addedT, 3)} ms   (target ≤ 1 ms: ${addedU - addedT <= 1 ? 'met' : 'NOT met'})`,
      );
      await data.stop();
      for (const r of runs) console.log(`${''.padEnd(44)} ${whereLost(data, r)}`);
    } catch (e) {
      console.log(`burrow ${mode}: failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await Promise.all(pairs.map((p) => p.stop()));
    }
  }
}

export async function udp(): Promise<void> {
  console.log(`\n## UDP services (issue 13): iperf3 -u, ${DATAGRAM}-byte datagrams, ${SECONDS} s per figure, loss counted by the receiver; ping-pong ${PINGS} round trips (first 10 % dropped)`);
  const { kernelLabSkipReason, Lab } = await import('../netsim/kernel/index.js');
  const { execFileSync } = await import('node:child_process');
  const skip = kernelLabSkipReason();
  if (skip) {
    console.log(`skipped: ${skip}`);
    return;
  }
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore', timeout: 5000 });
  } catch {
    console.log('skipped: iperf3 is not installed (apt-get install iperf3)');
    return;
  }
  // Loopback: every role inside one namespace, talking over its lo.
  let lab = await Lab.create();
  try {
    const n = lab.server;
    await runPlace(lab, { label: 'loopback (rendezvous, provider, visitor and iperf3 in one namespace)', home: n, laptop: n, baselineHost: n, baselineIp: '127.0.0.1' });
  } finally {
    await lab.close();
  }
  lab = await Lab.create();
  try {
    const [a, b] = await Promise.all([lab.addSite('port-restricted-cone'), lab.addSite('port-restricted-cone')]);
    await runPlace(lab, {
      label: 'behind two kernel-lane port-restricted NATs (provider site 1, visitor site 2); the no-burrow baseline crosses the visitor NAT and the core to the public outside host',
      home: at(a.hosts, 0),
      laptop: at(b.hosts, 0),
      baselineHost: lab.outside,
      baselineIp: lab.outside.ip,
    });
  } finally {
    await lab.close();
  }
}

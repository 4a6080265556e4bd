/**
 * `npm run bench`: every figure the transport promises, each next to a
 * baseline measured in this same run on this same machine.
 *
 * MB/s means 10^6 bytes per second of application data.
 */
import os from 'node:os';
import { aeadPreference } from '../src/crypto/index.js';
import { rawUdpThroughput } from './udp-raw.js';
import { kcptunAvailable, startKcptun } from './lib/kcptun.js';
import { freePort, percentile, pingPong, pushThrough, startEcho, startSink } from './lib/tcp.js';
import { childStats, sibling, startChild, startTunnel } from './lib/processes.js';
import { wakeupsPerSecond } from './lib/wakeups.js';
import { REFERENCE_MODES, referenceSimulation } from './reference-sim.js';
import { startCliLab } from './lib/cli-lab.js';
import { peers } from './peers.js';
import { capacity } from './capacity.js';
import { clusterConnect } from './cluster-connect.js';
import { firstByte, startBanner } from './lib/first-byte.js';
import { udp } from './udp.js';

const BULK_BYTES = Number(process.env.BENCH_BULK_MB ?? 256) * 1e6;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function bulk(): Promise<void> {
  console.log(`\n## Bulk throughput, loopback, ${BULK_BYTES / 1e6} MB per round, median of ${ROUNDS}`);
  const raw = await rawUdpThroughput(2);
  console.log(`raw node:dgram (1400 B datagrams, one process)   ${fmt(raw.mbps)} MB/s  (${Math.round(raw.pps)} packets/s)`);

  const sink = await startSink();
  const tunnel = await startTunnel(sink.port);
  const haveKcptun = kcptunAvailable();
  const kcptun = haveKcptun ? await startKcptun(sink.port) : null;
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    // Warm both up (JIT, socket buffers), then alternate rounds so drift hits both alike.
    await pushThrough(tunnel.port, 16e6, sink, 60_000);
    if (kcptun) await pushThrough(kcptun.port, 16e6, sink, 60_000);
    for (let i = 0; i < ROUNDS; i++) {
      ours.push(BULK_BYTES / 1e6 / (await pushThrough(tunnel.port, BULK_BYTES, sink, 120_000)));
      if (kcptun) theirs.push(BULK_BYTES / 1e6 / (await pushThrough(kcptun.port, BULK_BYTES, sink, 120_000)));
    }
    const [v, p] = [await childStats(tunnel.visitor), await childStats(tunnel.provider)];
    console.log(
      `burrow sender: ${v.kcp!.segmentsSent} segments, ${v.kcp!.retransmits} retransmitted (${v.kcp!.fastRetransmits} fast), ` +
        `${v.udp!.sendErrors} send errors; receiver: ${p.kcp!.duplicates} duplicates, ${p.kcp!.outOfWindow} out of window; ` +
        `CPU s sender ${((v.cpu!.user! + v.cpu!.system!) / 1e6).toFixed(1)}, receiver ${((p.cpu!.user! + p.cpu!.system!) / 1e6).toFixed(1)}`,
    );
  } finally {
    tunnel.stop();
    kcptun?.stop();
    await sink.close();
  }
  const o = median(ours);
  console.log(`burrow KCP+mux+${aeadPreference()} (2 processes)   ${fmt(o)} MB/s  rounds: ${ours.map((x) => fmt(x)).join(", ")}`);
  if (kcptun) {
    const k = median(theirs);
    console.log(`kcptun fast3, wnd 1024, no crypto, no FEC        ${fmt(k)} MB/s  rounds: ${theirs.map((x) => fmt(x)).join(', ')}`);
    console.log(`burrow / kcptun = ${fmt(o / k, 2)}x   (target >= 1.00x)   burrow / raw dgram = ${fmt(o / raw.mbps, 2)}x`);
  } else {
    console.log('kcptun: skipped, not installed (Debian: apt-get install kcptun)');
  }
}

async function latency(): Promise<void> {
  const COUNT = 2000;
  console.log(`\n## Ping-pong latency, 64-byte messages, ${COUNT} round trips through an echo server`);
  const echo = await startEcho();
  const tunnel = await startTunnel(echo.port);
  const kcptun = kcptunAvailable() ? await startKcptun(echo.port) : null;
  try {
    const row = (label: string, rtts: number[]) =>
      console.log(`${label.padEnd(36)} p50 ${fmt(percentile(rtts, 50), 3)} ms   p99 ${fmt(percentile(rtts, 99), 3)} ms`);
    await pingPong(echo.port, 64, 200);
    row('direct TCP to the echo server', await pingPong(echo.port, 64, COUNT));
    await pingPong(tunnel.port, 64, 200);
    const ours = await pingPong(tunnel.port, 64, COUNT);
    row('burrow tunnel', ours);
    if (kcptun) {
      await pingPong(kcptun.port, 64, 200);
      row('kcptun fast3', await pingPong(kcptun.port, 64, COUNT));
    }
    console.log(`target: burrow p50 < 1 ms -> ${percentile(ours, 50) < 1 ? 'met' : 'NOT met'}`);
  } finally {
    tunnel.stop();
    kcptun?.stop();
    echo.close();
  }
}

async function referenceSim(): Promise<void> {
  const SEEDS = [1, 2, 3, 4, 5];
  console.log('\n## KCP reference simulation (10 % loss per round trip, RTT 60-125 ms, 8 B every 20 ms, 1000 echoes)');
  console.log(`burrow: mean over ${SEEDS.length} seeded runs of each run's average and maximum RTT (worst run's maximum in brackets)`);
  console.log('mode      burrow avg / max (ms)          published avg / max (ms)');
  for (const mode of REFERENCE_MODES) {
    const runs = [];
    for (const seed of SEEDS) runs.push(await referenceSimulation(mode.opts, seed));
    const avg = runs.reduce((s, r) => s + r.avgRtt, 0) / runs.length;
    const max = runs.reduce((s, r) => s + r.maxRtt, 0) / runs.length;
    const worst = Math.max(...runs.map((r) => r.maxRtt));
    const verdict = avg <= mode.published.avg && max <= mode.published.max ? 'no worse' : 'WORSE';
    console.log(
      `${mode.name.padEnd(9)} ${fmt(avg).padStart(7)} / ${fmt(max, 0)} [${fmt(worst, 0)}]`.padEnd(42) +
        `${String(mode.published.avg).padStart(6)} / ${String(mode.published.max).padEnd(8)} ${verdict}`,
    );
  }
}

async function idle(): Promise<void> {
  const SECONDS = 10;
  console.log(`\n## Idle wake-ups (main-thread voluntary context switches per second over ${SECONDS} s)`);
  const echo = await startEcho();
  const tunnel = await startTunnel(echo.port);
  const baseline = await startChild(sibling('idle-baseline'), {});
  try {
    await pingPong(tunnel.port, 64, 10);
    await new Promise((r) => setTimeout(r, 1000));
    const [v, p, b] = await Promise.all([
      wakeupsPerSecond(tunnel.visitor.pid!, SECONDS),
      wakeupsPerSecond(tunnel.provider.pid!, SECONDS),
      wakeupsPerSecond(baseline.pid!, SECONDS),
    ]);
    console.log(`idle tunnel, visitor end    ${fmt(v, 2)} /s`);
    console.log(`idle tunnel, provider end   ${fmt(p, 2)} /s`);
    console.log(`node process with one UDP socket and nothing else   ${fmt(b, 2)} /s`);
  } finally {
    tunnel.stop();
    baseline.kill('SIGKILL');
    echo.close();
  }
}

async function relay(): Promise<void> {
  const bytes = Number(process.env.BENCH_RELAY_MB ?? 128) * 1e6;
  console.log(`\n## Relay path (stcp): visitor -> rendezvous -> provider, real CLI processes, ${bytes / 1e6} MB per round, median of ${ROUNDS}`);
  const sink = await startSink();
  const pipePort = await freePort();
  const pipe = await startChild(sibling('tcp-pipe'), { listenPort: pipePort, targetPort: sink.port });
  const lab = await startCliLab(sink.port);
  const ours: number[] = [];
  const base: number[] = [];
  try {
    await pushThrough(lab.port, 16e6, sink, 60_000);
    await pushThrough(pipePort, 16e6, sink, 60_000);
    for (let i = 0; i < ROUNDS; i++) {
      base.push(bytes / 1e6 / (await pushThrough(pipePort, bytes, sink, 120_000)));
      ours.push(bytes / 1e6 / (await pushThrough(lab.port, bytes, sink, 300_000)));
    }
  } finally {
    lab.stop();
    pipe.kill('SIGKILL');
    await sink.close();
  }
  const o = median(ours);
  const b = median(base);
  console.log(`plain TCP pipe through one node process       ${fmt(b)} MB/s  rounds: ${base.map((x) => fmt(x)).join(', ')}`);
  console.log(`burrow relay (sealed records + mux, 3 procs)   ${fmt(o)} MB/s  rounds: ${ours.map((x) => fmt(x)).join(', ')}`);
  console.log(`relay / pipe = ${fmt(o / b, 2)}x   (target >= 0.80x)`);

  // Time from a visitor's TCP connect to the first byte back (the target speaks first).
  const banner = await startBanner();
  const bannerPort = banner.port;
  const lab2 = await startCliLab(bannerPort);
  try {
    const direct: number[] = [];
    const relayed: number[] = [];
    for (let i = 0; i < 200; i++) {
      direct.push(await firstByte(bannerPort));
      relayed.push(await firstByte(lab2.port));
    }
    console.log(`connect -> first byte, target directly        p50 ${fmt(percentile(direct, 50), 3)} ms   p99 ${fmt(percentile(direct, 99), 3)} ms`);
    console.log(`connect -> first byte, through the relay      p50 ${fmt(percentile(relayed, 50), 3)} ms   p99 ${fmt(percentile(relayed, 99), 3)} ms`);
  } finally {
    lab2.stop();
    banner.close();
  }
}

async function p2p(): Promise<void> {
  const bytes = Number(process.env.BENCH_RELAY_MB ?? 128) * 1e6;
  console.log(`\n## Direct path (xtcp) vs relay (stcp), real CLI processes on loopback, ${bytes / 1e6} MB per round, median of ${ROUNDS}`);
  const sink = await startSink();
  const direct = await startCliLab(sink.port, 'xtcp');
  const relayed = await startCliLab(sink.port, 'stcp');
  const d: number[] = [];
  const r: number[] = [];
  try {
    await pushThrough(direct.port, 16e6, sink, 60_000);
    await pushThrough(relayed.port, 16e6, sink, 60_000);
    for (let i = 0; i < ROUNDS; i++) {
      d.push(bytes / 1e6 / (await pushThrough(direct.port, bytes, sink, 300_000)));
      r.push(bytes / 1e6 / (await pushThrough(relayed.port, bytes, sink, 300_000)));
    }
  } finally {
    direct.stop();
    relayed.stop();
    await sink.close();
  }
  console.log(`burrow relay (stcp, 32 KiB packets over TCP)    ${fmt(median(r))} MB/s  rounds: ${r.map((x) => fmt(x)).join(', ')}`);
  console.log(`burrow direct (xtcp, punched UDP path)          ${fmt(median(d))} MB/s  rounds: ${d.map((x) => fmt(x)).join(', ')}`);

  const banner = await startBanner();
  const x = await startCliLab(banner.port, 'xtcp');
  const y = await startCliLab(banner.port, 'stcp');
  try {
    const viaDirect: number[] = [];
    const viaRelay: number[] = [];
    for (let i = 0; i < 200; i++) {
      viaDirect.push(await firstByte(x.port));
      viaRelay.push(await firstByte(y.port));
    }
    console.log(`connect -> first byte, relay (stcp)             p50 ${fmt(percentile(viaRelay, 50), 3)} ms   p99 ${fmt(percentile(viaRelay, 99), 3)} ms`);
    console.log(`connect -> first byte, direct (xtcp)            p50 ${fmt(percentile(viaDirect, 50), 3)} ms   p99 ${fmt(percentile(viaDirect, 99), 3)} ms`);
  } finally {
    x.stop();
    y.stop();
    banner.close();
  }
  await kernelP2p();
}

/** Time to the direct path and direct throughput behind real Linux NATs (root only). */
async function kernelP2p(): Promise<void> {
  const { kernelLabSkipReason } = await import('../netsim/kernel/index.js');
  const skip = kernelLabSkipReason();
  if (skip) {
    console.log(`kernel lane skipped: ${skip}`);
    return;
  }
  const { runKernelMatrix } = await import('../netsim/kernel/matrix/run.js');
  const PR = 'port-restricted-cone' as const;
  const runs = Number(process.env.BENCH_PUNCH_RUNS ?? 20);
  console.log(`\n## Behind two plain Linux (port-restricted) NATs, kernel lane: ${runs} fresh sessions`);
  const punch = await runKernelMatrix({ mode: 'xtcp', pairs: Array.from({ length: runs }, () => [PR, PR] as const), sizeBytes: 1 << 20 });
  const times = punch.results.flatMap((p) => (p.directMs === null ? [] : [p.directMs]));
  console.log(
    `direct in ${times.length}/${runs}; visitor session up -> direct path  p50 ${fmt(percentile(times, 50), 0)} ms   p95 ${fmt(percentile(times, 95), 0)} ms   max ${fmt(Math.max(...times), 0)} ms   (target < 1 s, p95 < 2 s)`,
  );
  // One way (provider -> visitor), like the loopback bulk figure: a fresh pair behind two port-restricted NATs.
  const { ScenarioLab } = await import('../netsim/kernel/scenarios/scenario-lab.js');
  const { startTransfer } = await import('../netsim/kernel/scenarios/procs.js');
  const size = 128 * 1024 * 1024;
  const oneWay = async (mode: 'xtcp' | 'stcp'): Promise<{ mbps: number[]; path: string }> => {
    const sl = await ScenarioLab.create({ mode });
    try {
      const pair = await sl.startPair(sl.siteB);
      try {
        const mbps: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          const r = await startTransfer(sl.lab, pair.visitorHost, pair.visitPort, size, 0, 300_000).result();
          mbps.push(r.ok && r.totalMs ? size / 1e6 / (r.totalMs / 1000) : NaN);
        }
        return { mbps, path: pair.path };
      } finally {
        await pair.stop();
      }
    } finally {
      await sl.lab.close();
    }
  };
  const dx = await oneWay('xtcp');
  const rx = await oneWay('stcp');
  console.log(`one way, ${size / 1e6} MB provider -> visitor, median of ${ROUNDS}: direct (${dx.path}) ${fmt(median(dx.mbps))} MB/s  rounds: ${dx.mbps.map((x) => fmt(x)).join(', ')}`);
  console.log(`                                      relay (stcp)            ${fmt(median(rx.mbps))} MB/s  rounds: ${rx.mbps.map((x) => fmt(x)).join(', ')}`);

  // Issue 10's target: direct over IPv6 between two firewalled sites no slower than IPv4 port-restricted.
  const { timeToDirectByFamily } = await import('./lib/ipv6-p2p.js');
  const fam = await timeToDirectByFamily(runs);
  const line = (xs: number[]) => `${xs.length}/${fam.runs} direct; p50 ${fmt(percentile(xs, 50), 0)} ms   p95 ${fmt(percentile(xs, 95), 0)} ms`;
  console.log(`\n## Time to direct by family, one lab, ${fam.runs} fresh sessions each, port mapping off`);
  console.log(`IPv6, two RFC 6092 firewalls (IPv4 random-symmetric both)   ${line(fam.ipv6)}   paths: ${[...new Set(fam.labels.ipv6)].join(', ')}`);
  console.log(`IPv4, two port-restricted NATs                              ${line(fam.ipv4)}   paths: ${[...new Set(fam.labels.ipv4)].join(', ')}`);
  const ratio = percentile(fam.ipv6, 50) / percentile(fam.ipv4, 50);
  console.log(`IPv6 / IPv4 p50: ${fmt(ratio, 2)} (target <= 1)`);
}

const sections: Record<string, () => Promise<void>> = { bulk, latency, sim: referenceSim, idle, relay, p2p, peers, udp, capacity, 'cluster-connect': clusterConnect };

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# burrow benchmarks — ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`);
  for (const [name, run] of Object.entries(sections)) {
    if (only.length > 0 && !only.includes(name)) continue;
    await run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

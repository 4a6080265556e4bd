/**
 * `npm run bench -- peers`: burrow next to the tools people use instead, one
 * run each, same machine, same push:
 *   relay  (stcp, loopback)                vs OpenSSH through a jump host (ssh -J)
 *   direct (xtcp, loopback)                vs kcptun
 *   direct (xtcp, behind two kernel NATs)  vs nebula through the same NATs
 * and the CPU seconds (user + sys, /proc) each side spent per GB moved.
 */
import { aeadPreference } from '../src/crypto/aead.js';
import os from 'node:os';
import { cpuMeter, type CpuRoles } from './lib/proc-cpu.js';
import { pushThrough, startSink, type Sink } from './lib/tcp.js';
import { startCliLab } from './lib/cli-lab.js';
import { kcptunAvailable, startKcptun } from './lib/kcptun.js';
import { sshJumpSkipReason, startSshJump, SSH_CIPHER } from './lib/ssh-jump.js';
import { runNatComparison } from './peers-nat.js';
import { printComparison, printSummary, standardRows, type Comparison, type Measured } from './lib/comparison.js';

const WARM_BYTES = 16e6;
const PUSH_NOTE = 'data flows visitor -> provider: a TCP push into the visitor-side port, timed until a sink behind the provider has it all';

/** Warms a loopback tunnel up, then pushes `bytes` through it once while reading the CPU of `roles`. */
async function measureLoopback(port: number, roles: CpuRoles, sink: Sink, bytes: number): Promise<Measured> {
  await pushThrough(port, Math.min(WARM_BYTES, bytes), sink, 60_000);
  const meter = cpuMeter(roles);
  const secs = await pushThrough(port, bytes, sink, 300_000);
  return { mbps: bytes / 1e6 / secs, cpu: meter.stop(), bytes };
}

const pidRoles = (p: { visitor: number; provider: number; relay?: number }): CpuRoles => ({
  visitor: [p.visitor],
  provider: [p.provider],
  ...(p.relay !== undefined ? { relay: [p.relay] } : {}),
});

async function relayVsSsh(bytes: number): Promise<Comparison> {
  const title = 'relay: burrow stcp via the rendezvous vs OpenSSH via a jump host, loopback';
  const peer = `ssh -J (${SSH_CIPHER}, -N -L)`;
  const notes = [
    'burrow: visitor -> rendezvous -> provider (3 processes); ssh: client (+ its ssh -W) -> jump sshd -> target sshd, every byte encrypted twice',
    PUSH_NOTE,
  ];
  const sink = await startSink();
  try {
    const lab = await startCliLab(sink.port, 'stcp');
    let ours: Measured;
    try {
      ours = await measureLoopback(lab.port, pidRoles(lab.pids), sink, bytes);
    } finally {
      lab.stop();
    }
    const skip = sshJumpSkipReason();
    if (skip !== null) return { title, peer, rows: standardRows(ours, null, 'relay / jump host'), skipped: skip, notes };
    const ssh = await startSshJump(sink.port);
    let theirs: Measured;
    try {
      theirs = await measureLoopback(ssh.port, pidRoles(ssh.pids), sink, bytes);
    } finally {
      ssh.stop();
    }
    return { title, peer, rows: standardRows(ours, theirs, 'relay / jump host'), notes };
  } finally {
    await sink.close();
  }
}

async function directVsKcptun(bytes: number): Promise<Comparison> {
  const title = 'direct: burrow xtcp (punched UDP path) vs kcptun, loopback';
  const peer = 'kcptun fast3, wnd 1024, no crypto, no FEC';
  const notes = [
    `burrow encrypts (${aeadPreference()}: the AEAD both ends of this machine negotiate) and kcptun here does not`,
    'burrow sends 16 KiB datagrams on a path whose remote is this host (loopback); kcptun its 1350-byte MTU. Between two machines burrow uses 1400 bytes',
    PUSH_NOTE,
  ];
  const sink = await startSink();
  try {
    const lab = await startCliLab(sink.port, 'xtcp');
    let ours: Measured;
    try {
      ours = await measureLoopback(lab.port, pidRoles(lab.pids), sink, bytes);
    } finally {
      lab.stop();
    }
    if (!kcptunAvailable()) return { title, peer, rows: standardRows(ours, null, null), skipped: 'kcptun not installed (apt-get install kcptun)', notes };
    const k = await startKcptun(sink.port);
    let theirs: Measured;
    try {
      theirs = await measureLoopback(k.port, pidRoles(k.pids), sink, bytes);
    } finally {
      k.stop();
    }
    return { title, peer, rows: standardRows(ours, theirs, null), notes };
  } finally {
    await sink.close();
  }
}

export async function peers(): Promise<void> {
  const bytes = Number(process.env.BENCH_BULK_MB ?? 256) * 1e6;
  console.log(`\n## burrow vs peer tools, one run each, ${bytes / 1e6} MB one way through each tunnel (after a ${Math.min(WARM_BYTES, bytes) / 1e6} MB warm-up)`);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`load average before: ${load} on ${os.cpus().length} CPUs (a busy machine skews both sides, unevenly)`);
  console.log('CPU = user + sys from /proc/PID/stat over the measured transfer (process and its children); ratio = burrow / peer');
  // BENCH_PEERS=relay,direct,nat runs only those comparisons (default: all three).
  const only = (process.env.BENCH_PEERS ?? 'relay,direct,nat').split(',');
  const runs: [string, () => Promise<Comparison>][] = (
    [
      ['relay', 'relay vs ssh -J', () => relayVsSsh(bytes)],
      ['direct', 'direct vs kcptun', () => directVsKcptun(bytes)],
      ['nat', 'direct (NATs) vs nebula', () => runNatComparison(bytes)],
    ] as const
  )
    .filter(([key]) => only.includes(key))
    .map(([, name, run]) => [name, run]);
  const done: { name: string; c: Comparison }[] = [];
  for (const [name, run] of runs) {
    try {
      const c = await run();
      printComparison(c);
      done.push({ name, c });
    } catch (err) {
      console.log(`\n### ${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  printSummary(done);
}

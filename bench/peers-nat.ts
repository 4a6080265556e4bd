/**
 * burrow's direct path vs nebula's, both through the same two kernel-lane
 * NATs (netsim/kernel): the provider behind a port-restricted cone NAT, the
 * visitor behind a full-cone one (nebula goes direct only when one side is
 * full cone; burrow goes direct on both). The rendezvous and nebula's
 * lighthouse both sit on the lab's public server. The same byte-exact stream
 * tool (netsim/kernel/scenarios/stream) moves the data provider -> visitor
 * through each, one run after a warm-up.
 */
import { at } from '../src/util/at.js';
import type { Lab, LabNode, LabProcess } from '../netsim/kernel/lab.js';
import { cpuMeter, type CpuRoles } from './lib/proc-cpu.js';
import { standardRows, type Comparison, type Measured } from './lib/comparison.js';
import { nebulaSkipReason, startNebula } from './lib/nebula.js';

const RV_PORT = 7000;
const TARGET_PORT = 9000;
const VISIT_PORT = 20_000;
const WARM_BYTES = 16e6;
const PROVIDER_NAT = 'port-restricted-cone';
const VISITOR_NAT = 'full-cone';

const pid = (p: LabProcess): number => {
  if (p.pid === undefined) throw new Error(`${p.cmd} has no pid`);
  return p.pid;
};

/** One stream-client download of `bytes` through ip:port on `host`; MB/s, or an error. */
async function download(lab: Lab, host: LabNode, ip: string, port: number, bytes: number, timeoutMs: number): Promise<number> {
  const { STREAM_ENTRY, Transfer, spawnNode } = await import('../netsim/kernel/scenarios/procs.js');
  const seed = `bench-peers-${process.pid}-${Date.now()}`;
  const p = spawnNode(lab, host, [STREAM_ENTRY, 'client', ip, String(port), String(bytes), '0', seed, String(timeoutMs)]);
  const r = await new Transfer(p, bytes, 0, timeoutMs).result();
  if (!r.ok || !r.totalMs) throw new Error(`transfer through ${ip}:${port} failed: ${r.error ?? 'no time'}`);
  return bytes / 1e6 / (r.totalMs / 1000);
}

async function measure(lab: Lab, host: LabNode, ip: string, port: number, roles: CpuRoles, bytes: number): Promise<Measured> {
  await download(lab, host, ip, port, Math.min(WARM_BYTES, bytes), 120_000);
  const meter = cpuMeter(roles);
  const mbps = await download(lab, host, ip, port, bytes, 300_000);
  return { mbps, cpu: meter.stop(), bytes };
}

/** burrow rendezvous + provider + visitor (xtcp); resolves once the visitor is on a direct path. */
async function burrowDirect(lab: Lab, server: LabNode, provider: LabNode, visitor: LabNode, bytes: number): Promise<{ m: Measured; path: string }> {
  const { BURROW_ENTRY, isDirect, spawnNode, waitEvent } = await import('../netsim/kernel/scenarios/procs.js');
  const token = `bench-${process.pid}`;
  const peer = ['--server', `${server.ip}:${RV_PORT}`, '--token', token, '--name', 'bench-nat', '--secret', 'bench-secret', '--mode', 'xtcp', '--log-format', 'json'];
  const rv = spawnNode(lab, server, [BURROW_ENTRY, 'rendezvous', '--listen', `${server.ip}:${RV_PORT}`, '--token', token, '--log-format', 'json']);
  const procs = [rv];
  try {
    await waitEvent(rv, 'rendezvous', 'listening', 15_000);
    const prov = spawnNode(lab, provider, [BURROW_ENTRY, 'provide', ...peer, '--to', `127.0.0.1:${TARGET_PORT}`]);
    procs.push(prov);
    await waitEvent(prov, 'provider', 'registered', 20_000);
    const vis = spawnNode(lab, visitor, [BURROW_ENTRY, 'visit', ...peer, '--listen', `127.0.0.1:${VISIT_PORT}`]);
    procs.push(vis);
    const up = await waitEvent(vis, 'visitor', 'session-up', 30_000);
    let path = typeof up.path === 'string' ? up.path : 'unknown';
    if (!isDirect(path)) {
      const direct = await waitEvent(vis, 'visitor', (e) => e.event === 'path' && typeof e.path === 'string' && isDirect(e.path), 15_000);
      path = String(direct.path);
    }
    const m = await measure(lab, visitor, '127.0.0.1', VISIT_PORT, { visitor: [pid(vis)], provider: [pid(prov)], relay: [pid(rv)] }, bytes);
    return { m, path };
  } finally {
    await Promise.all(procs.map((p) => p.stop(1000)));
  }
}

/** nebula lighthouse + two nodes; the first transfers (bounded retries) double as the wait for the punched path. */
async function nebulaDirect(lab: Lab, server: LabNode, provider: LabNode, visitor: LabNode, bytes: number): Promise<Measured> {
  const mesh = await startNebula(lab, server, provider, visitor);
  try {
    let lastErr: unknown = null;
    for (let i = 0; i < 10; i++) {
      try {
        await download(lab, visitor, mesh.providerIp, TARGET_PORT, 64 * 1024, 3000);
        lastErr = null;
        break;
      } catch (err) {
        lastErr = err;
      }
    }
    if (lastErr !== null) throw new Error(`nebula found no direct path in 10 tries (relays are off): ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
    return await measure(lab, visitor, mesh.providerIp, TARGET_PORT, { visitor: [pid(mesh.visitor)], provider: [pid(mesh.provider)], relay: [pid(mesh.lighthouse)] }, bytes);
  } finally {
    await mesh.stop();
  }
}

export async function runNatComparison(bytes: number): Promise<Comparison> {
  const title = `direct: burrow xtcp vs nebula, behind two kernel-lane NATs (provider ${PROVIDER_NAT}, visitor ${VISITOR_NAT})`;
  const peer = 'nebula (Noise + AES-GCM, TUN, lighthouse on the public side, relays off)';
  const notes = ['data flows provider -> visitor: the netsim stream client downloads from a target behind the provider, checked byte-exact'];
  const { kernelLabSkipReason, Lab } = await import('../netsim/kernel/index.js');
  const skip = kernelLabSkipReason();
  if (skip) return { title, peer, rows: standardRows(null, null, 'rendezvous / lighthouse'), skipped: `kernel lane: ${skip}`, notes };
  const lab = await Lab.create();
  try {
    const [provSite, visSite] = await Promise.all([lab.addSite(PROVIDER_NAT), lab.addSite(VISITOR_NAT)]);
    const provider = at(provSite.hosts, 0);
    const visitor = at(visSite.hosts, 0);
    const { STREAM_ENTRY, spawnNode } = await import('../netsim/kernel/scenarios/procs.js');
    // Listening on every address: burrow's provider reaches it on 127.0.0.1, the nebula overlay on 10.99.0.2.
    const target = spawnNode(lab, provider, [STREAM_ENTRY, 'target', '0.0.0.0', String(TARGET_PORT)]);
    await target.waitFor(/"ready":true/, 15_000);
    const ours = await burrowDirect(lab, lab.server, provider, visitor, bytes);
    notes.push(`burrow path: ${ours.path}`);
    const why = nebulaSkipReason();
    if (why !== null) return { title, peer, rows: standardRows(ours.m, null, 'rendezvous / lighthouse'), skipped: why, notes };
    const theirs = await nebulaDirect(lab, lab.server, provider, visitor, bytes);
    notes.push('nebula path: direct (relays off, so the transfer could not have gone another way)');
    return { title, peer, rows: standardRows(ours.m, theirs, 'rendezvous / lighthouse', true), notes };
  } finally {
    await lab.close();
  }
}

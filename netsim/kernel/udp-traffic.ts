/** Runs udp-tool.ts modes in lab namespaces and reads their results (every wait bounded). */
import { fileURLToPath } from 'node:url';
import type { Lab, LabNode, LabProcess } from './lab.js';
import { spawnNode, waitExit } from './cli-process.js';
import type { BurstReport } from './udp-burst.js';
import type { DnsResponse } from './dns-wire.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const UDP_TOOL_ENTRY = fileURLToPath(new URL(`./udp-tool${EXT}`, import.meta.url));

function lastJson(p: LabProcess, key: string): Record<string, unknown> {
  const lines = p.stdout().trim().split('\n').filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const o = JSON.parse(lines[i] ?? '') as Record<string, unknown>;
      if (key in o || 'error' in o) return o;
    } catch {
      /* partial line */
    }
  }
  throw new Error(`udp-tool printed no ${key}: ${(p.stdout() + p.stderr()).slice(-300)}`);
}

async function finished(p: LabProcess, key: string, timeoutMs: number): Promise<Record<string, unknown>> {
  if (!(await waitExit(p, timeoutMs))) {
    await p.stop(500);
    throw new Error(`udp-tool ${p.args.slice(p.args.indexOf(UDP_TOOL_ENTRY) + 1).join(' ')} did not end within ${timeoutMs} ms`);
  }
  return lastJson(p, key);
}

/** A byte-exact UDP echo on ip:port in the node; killed with the lab or by stop(). */
export async function startUdpEcho(lab: Lab, node: LabNode, ip: string, port: number): Promise<LabProcess> {
  const p = spawnNode(lab, node, [UDP_TOOL_ENTRY, 'echo', ip, String(port), '600000']);
  await p.waitFor(/"ready":true/, 15_000);
  return p;
}

export interface BurstParams {
  count: number;
  maxSize: number;
  window: number;
  lossTimeoutMs?: number;
  timeoutMs: number;
}

/** Sends a checked burst from `node` to ip:port (an echo, maybe through a tunnel). */
export async function runBurst(lab: Lab, node: LabNode, ip: string, port: number, b: BurstParams): Promise<BurstReport & { error?: string }> {
  const p = spawnNode(lab, node, [
    UDP_TOOL_ENTRY, 'burst', ip, String(port), String(b.count), String(b.maxSize), String(b.window), String(b.lossTimeoutMs ?? 1000), String(b.timeoutMs),
  ]);
  const o = await finished(p, 'report', b.timeoutMs + 15_000);
  if (!o.report) throw new Error(`burst failed: ${String(o.error)}`);
  return { ...(o.report as BurstReport), ...(typeof o.error === 'string' ? { error: o.error } : {}) };
}

/** One A query from `node` to ip:port; the parsed answer, or an error message. */
export async function dnsQuery(lab: Lab, node: LabNode, ip: string, port: number, name: string, timeoutMs = 5000): Promise<DnsResponse | { error: string }> {
  const p = spawnNode(lab, node, [UDP_TOOL_ENTRY, 'dns', ip, String(port), name, String(timeoutMs)]);
  const o = await finished(p, 'dns', timeoutMs + 15_000);
  return o.dns ? (o.dns as DnsResponse) : { error: String(o.error) };
}

export interface PingPongSummary {
  n: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** Sequential round trips of `size` bytes over UDP or TCP from `node` to an echo at ip:port. */
export async function pingPong(lab: Lab, node: LabNode, proto: 'udp' | 'tcp', ip: string, port: number, count: number, size: number, timeoutMs = 30_000): Promise<PingPongSummary> {
  const p = spawnNode(lab, node, [UDP_TOOL_ENTRY, 'pingpong', proto, ip, String(port), String(count), String(size), String(timeoutMs)]);
  const o = await finished(p, 'pingpong', timeoutMs + 15_000);
  if (!o.pingpong) throw new Error(`${proto} ping-pong through ${ip}:${port} failed: ${String(o.error)}`);
  return o.pingpong as PingPongSummary;
}

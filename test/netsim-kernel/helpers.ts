/** Probes for the kernel-lane tests: small node programs run inside lab namespaces. */
import { Lab, PROBE_SOURCE, lastJson, type LabNode, type UdpDatagram } from '../../netsim/kernel/index.js';

export interface SendResult {
  local: number;
  sent: number;
  replies: UdpDatagram[];
}

/** Sends `count` datagrams from `bindPort` and collects replies for `waitMs` after the last one. */
export async function udpSend(
  lab: Lab,
  node: LabNode,
  o: { bindPort: number; dst: string; dstPort: number; count?: number; intervalMs?: number; waitMs?: number; ttl?: number },
): Promise<SendResult> {
  const args = [
    'udp-send',
    String(o.bindPort),
    o.dst,
    String(o.dstPort),
    String(o.count ?? 1),
    String(o.intervalMs ?? 10),
    String(o.waitMs ?? 400),
    ...(o.ttl ? [String(o.ttl)] : []),
  ];
  const r = await lab.exec(node, process.execPath, ['-e', PROBE_SOURCE, ...args], { timeoutMs: 30_000 });
  return lastJson<SendResult>(r.stdout);
}

/** Starts a UDP listener; `result()` resolves to what it received within `waitMs`. */
export async function udpListen(
  lab: Lab,
  node: LabNode,
  port: number,
  waitMs: number,
  family: 4 | 6 = 4,
): Promise<{ result: () => Promise<UdpDatagram[]> }> {
  const p = lab.spawn(node, process.execPath, ['-e', PROBE_SOURCE, 'udp-listen', String(port), String(waitMs), ...(family === 6 ? ['6'] : [])]);
  await p.waitFor(/"ready":true/, 5000);
  return {
    result: async () => {
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, waitMs + 5000))]);
      return lastJson<{ received: UdpDatagram[] }>(p.stdout()).received;
    },
  };
}

/** Starts a UDP echo (replies "ECHO ip:port …") on ip:port in the node's namespace. */
export async function udpEcho(lab: Lab, node: LabNode, ip: string, port: number, lifetimeMs = 600_000): Promise<void> {
  const p = lab.spawn(node, process.execPath, ['-e', PROBE_SOURCE, 'udp-echo', ip, String(port), String(lifetimeMs)]);
  await p.waitFor(/"ready":true/, 5000);
}

export async function tcpEcho(lab: Lab, node: LabNode, ip: string, port: number, lifetimeMs = 600_000): Promise<void> {
  const p = lab.spawn(node, process.execPath, ['-e', PROBE_SOURCE, 'tcp-echo', ip, String(port), String(lifetimeMs)]);
  await p.waitFor(/"ready":true/, 5000);
}

export async function tcpConnect(lab: Lab, node: LabNode, ip: string, port: number, timeoutMs = 3000): Promise<{ ok: boolean; error?: string }> {
  const r = await lab.exec(node, process.execPath, ['-e', PROBE_SOURCE, 'tcp-connect', ip, String(port), String(timeoutMs)], {
    timeoutMs: timeoutMs + 5000,
  });
  return lastJson(r.stdout);
}

/** The public ip:port the echo server saw, from an "ECHO ip:port …" reply. */
export function mappedFrom(reply: UdpDatagram | undefined): { ip: string; port: number } {
  const m = reply && /^ECHO (\d+\.\d+\.\d+\.\d+):(\d+) /.exec(reply.data);
  if (!m) throw new Error(`not an echo reply: ${JSON.stringify(reply)}`);
  return { ip: m[1]!, port: Number(m[2]) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Slack's nebula in a kernel lab, for the direct-path comparison: a
 * lighthouse on the lab's public side, one node on each NAT site, overlay
 * 10.99.0.0/24. Relays are off, so a working overlay between the two nodes is
 * a punched, direct path. Certificates from `nebula-cert`; configs are JSON
 * (valid YAML), all in a temp dir removed on stop.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, LabNode, LabProcess } from '../../netsim/kernel/lab.js';
import { atTeardown } from './teardown.js';

const LISTEN_PORT = 4242;
const OVERLAY = { lighthouse: '10.99.0.1', provider: '10.99.0.2', visitor: '10.99.0.3' } as const;

export function nebulaSkipReason(): string | null {
  for (const cmd of ['nebula', 'nebula-cert']) {
    if (spawnSync(cmd, ['-version'], { stdio: 'ignore' }).error !== undefined) return 'nebula not installed (apt-get install nebula)';
  }
  return null;
}

export interface NebulaMesh {
  /** The provider's overlay address (targets there are reached from the visitor node). */
  readonly providerIp: string;
  readonly lighthouse: LabProcess;
  readonly provider: LabProcess;
  readonly visitor: LabProcess;
  stop(): Promise<void>;
}

function nebulaCert(args: string[]): void {
  const r = spawnSync('nebula-cert', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nebula-cert ${args[0]} failed: ${r.stderr || r.stdout}`);
}

function config(dir: string, name: keyof typeof OVERLAY, lighthouseUnderlay: string): string {
  const anyRule = [{ port: 'any', proto: 'any', host: 'any' }];
  const lighthouse = name === 'lighthouse';
  const cfg = {
    pki: { ca: join(dir, 'ca.crt'), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) },
    static_host_map: { [OVERLAY.lighthouse]: [`${lighthouseUnderlay}:${LISTEN_PORT}`] },
    lighthouse: { am_lighthouse: lighthouse, interval: 60, hosts: lighthouse ? [] : [OVERLAY.lighthouse] },
    listen: { host: '0.0.0.0', port: lighthouse ? LISTEN_PORT : 0 },
    punchy: { punch: true, respond: true },
    // No relays: traffic between the two nodes either goes direct or not at all.
    relay: { am_relay: false, use_relays: false },
    tun: { dev: 'nebula1' },
    logging: { level: 'info', format: 'text' },
    firewall: { outbound: anyRule, inbound: anyRule },
  };
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

async function waitOutput(p: LabProcess, re: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (re.test(p.stdout() + p.stderr())) return;
    if (!p.running) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nebula in ${p.node.ns} did not log ${re} within ${timeoutMs} ms: ${(p.stdout() + p.stderr()).slice(-400)}`);
}

/** Starts the lighthouse on `server` and a node on each of `provider`, `visitor`; resolves when all three have their TUN up. */
export async function startNebula(lab: Lab, server: LabNode, provider: LabNode, visitor: LabNode): Promise<NebulaMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-bench-nebula-'));
  const procs: LabProcess[] = [];
  const removeDir = atTeardown(() => rmSync(dir, { recursive: true, force: true }));
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop(1000)));
    removeDir();
  };
  try {
    nebulaCert(['ca', '-name', 'burrow-bench', '-out-crt', join(dir, 'ca.crt'), '-out-key', join(dir, 'ca.key')]);
    for (const [name, ip] of Object.entries(OVERLAY)) {
      nebulaCert([
        'sign', '-ca-crt', join(dir, 'ca.crt'), '-ca-key', join(dir, 'ca.key'), '-name', name, '-ip', `${ip}/24`,
        '-out-crt', join(dir, `${name}.crt`), '-out-key', join(dir, `${name}.key`),
      ]);
    }
    const start = (node: LabNode, name: keyof typeof OVERLAY): LabProcess => {
      const p = lab.spawn(node, 'nebula', ['-config', config(dir, name, server.ip)]);
      procs.push(p);
      return p;
    };
    const lh = start(server, 'lighthouse');
    await waitOutput(lh, /Nebula interface is active/, 10_000);
    const prov = start(provider, 'provider');
    const vis = start(visitor, 'visitor');
    await Promise.all([waitOutput(prov, /Nebula interface is active/, 10_000), waitOutput(vis, /Nebula interface is active/, 10_000)]);
    return { providerIp: OVERLAY.provider, lighthouse: lh, provider: prov, visitor: vis, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

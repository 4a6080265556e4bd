/**
 * Time to the direct path over IPv6 next to IPv4, behind real Linux routers
 * (kernel lane, root only), in one lab and one run: two dual-stack sites
 * whose IPv4 NATs are random-symmetric (hopeless over IPv4, so the path is
 * IPv6 through two RFC 6092 firewalls), and two IPv4-only port-restricted
 * sites (plain Linux masquerade). Port mapping off on both (no router here
 * answers it; its grace would be paid alike). Each run is a fresh visitor
 * session; the figure is the visitor's `direct-up` sinceSessionMs.
 */
import { Lab, type LabNode, type LabProcess, type NatSite } from '../../netsim/kernel/index.js';
import { BURROW_ENTRY, spawnNode, waitEvent } from '../../netsim/kernel/cli-process.js';

const NAME = 'rendezvous.bench.example';
const RV_PORT = 7000;
const TOKEN = 'bench-ipv6-token';

export interface FamilyTimes {
  /** ms from the visitor's session up to its direct path, per run that went direct. */
  ipv4: number[];
  ipv6: number[];
  /** Path labels seen, per family case (e.g. "direct internet IPv6"). */
  labels: { ipv4: string[]; ipv6: string[] };
  runs: number;
}

function host(site: NatSite): LabNode {
  const h = site.hosts[0];
  if (h === undefined) throw new Error(`site ${site.index} has no host`);
  return h;
}

export async function timeToDirectByFamily(runs: number): Promise<FamilyTimes> {
  const lab = await Lab.create({ ipv6: true });
  const procs: LabProcess[] = [];
  const burrow = (node: LabNode, args: readonly string[]): LabProcess => {
    const p = spawnNode(lab, node, [BURROW_ENTRY, ...args, '--log-format', 'json']);
    procs.push(p);
    return p;
  };
  const out: FamilyTimes = { ipv4: [], ipv6: [], labels: { ipv4: [], ipv6: [] }, runs };
  try {
    const [v6a, v6b, v4a, v4b] = await Promise.all([
      lab.addSite('symmetric-random', { ipv6: 'dual' }),
      lab.addSite('symmetric-random', { ipv6: 'dual' }),
      lab.addSite('port-restricted-cone'),
      lab.addSite('port-restricted-cone'),
    ]);
    lab.addName(NAME);
    const rv = burrow(lab.server, ['rendezvous', '--listen', `[::]:${RV_PORT}`, '--token', TOKEN]);
    await waitEvent(rv, 'rendezvous', 'listening', 15_000);
    const peer = (service: string) => ['--server', `${NAME}:${RV_PORT}`, '--token', TOKEN, '--name', service, '--secret', `${service}-secret`, '--no-portmap'];
    const measure = async (pSite: NatSite, vSite: NatSite, service: string, into: number[], labels: string[]) => {
      // The provider's target is never dialled: only the path is timed.
      const provider = burrow(host(pSite), ['provide', ...peer(service), '--to', '127.0.0.1:9']);
      await waitEvent(provider, 'provider', 'registered', 20_000);
      for (let i = 0; i < runs; i++) {
        const visitor = burrow(host(vSite), ['visit', ...peer(service), '--listen', `127.0.0.1:${21_000 + i}`]);
        try {
          const up = await waitEvent(visitor, 'visitor', 'direct-up', 15_000).catch(() => null);
          if (up !== null && typeof up.sinceSessionMs === 'number') {
            into.push(up.sinceSessionMs);
            labels.push(String(up.path));
          }
        } finally {
          await visitor.stop();
        }
      }
      await provider.stop();
    };
    await measure(v6a, v6b, 'v6', out.ipv6, out.labels.ipv6);
    await measure(v4a, v4b, 'v4', out.ipv4, out.labels.ipv4);
    return out;
  } finally {
    for (const p of procs) if (p.running) await p.stop();
    await lab.close();
  }
}

/**
 * nftables counters of the packets one source address sends into a lab
 * node, by protocol: how much of an attacker's spray arrived at a NAT
 * router, and how much of it got through to the hosts behind it. A table of
 * its own per node (`<lab table>_spy`), removed with the namespace.
 */
import type { Lab, LabNode } from './lab.js';

export type CountedProto = 'udp' | 'tcp';

export interface SourceCounts {
  udp: { packets: number; bytes: number };
  tcp: { packets: number; bytes: number };
  /** UDP to the ports given to `countFrom` (e.g. one process's sockets). */
  udpToPorts: { packets: number; bytes: number };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function spyTable(lab: Lab): string {
  return `${lab.table}_spy`;
}

/**
 * Counts packets from `source` entering the node (prerouting, before NAT and
 * filtering): on a router that is what arrived; on a host, what got through,
 * and with `udpPorts`, how much of it was UDP to those ports.
 */
export async function countFrom(lab: Lab, node: LabNode, source: string, udpPorts: readonly number[] = []): Promise<void> {
  if (!IPV4.test(source)) throw new Error(`not an IPv4 address: ${source}`);
  for (const p of udpPorts) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`bad port ${p}`);
  const t = spyTable(lab);
  const ruleset = [
    `table ip ${t} {`,
    `  counter from_udp {}`,
    `  counter from_tcp {}`,
    `  counter udp_to_ports {}`,
    `  chain pre {`,
    `    type filter hook prerouting priority -310; policy accept;`,
    `    ip saddr ${source} meta l4proto udp counter name from_udp`,
    `    ip saddr ${source} meta l4proto tcp counter name from_tcp`,
    ...(udpPorts.length ? [`    ip saddr ${source} udp dport { ${[...new Set(udpPorts)].join(', ')} } counter name udp_to_ports`] : []),
    `  }`,
    `}`,
    '',
  ].join('\n');
  await lab.exec(node, 'nft', ['-f', '-'], { input: ruleset });
}

interface NftCounter {
  counter?: { name: string; table: string; packets: number; bytes: number };
}

/** Reads the counters `countFrom` installed. */
export async function readCounts(lab: Lab, node: LabNode): Promise<SourceCounts> {
  const r = await lab.exec(node, 'nft', ['-j', 'list', 'counters', 'table', 'ip', spyTable(lab)]);
  const parsed = JSON.parse(r.stdout) as { nftables?: NftCounter[] };
  const out: SourceCounts = { udp: { packets: 0, bytes: 0 }, tcp: { packets: 0, bytes: 0 }, udpToPorts: { packets: 0, bytes: 0 } };
  for (const item of parsed.nftables ?? []) {
    const c = item.counter;
    if (!c) continue;
    if (c.name === 'from_udp') out.udp = { packets: c.packets, bytes: c.bytes };
    if (c.name === 'from_tcp') out.tcp = { packets: c.packets, bytes: c.bytes };
    if (c.name === 'udp_to_ports') out.udpToPorts = { packets: c.packets, bytes: c.bytes };
  }
  return out;
}

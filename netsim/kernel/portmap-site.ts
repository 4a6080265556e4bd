/**
 * The port-mapping router of a kernel-lab site (profiles with `portMapping`,
 * e.g. `upnp-router`): Debian's miniupnpd in the site router's namespace,
 * answering NAT-PMP, PCP and UPnP IGD on the LAN side, or one of them alone.
 *
 * miniupnpd 2.3.1 has one switch for NAT-PMP and PCP (both on UDP 5351), so
 * "NAT-PMP alone" and "PCP alone" are made by the router's input filter: the
 * first payload byte of a request is its version (0 NAT-PMP, 2 PCP), and the
 * version the router must not speak is dropped before the daemon sees it —
 * like a router that only implements the other one. UPnP alone turns NAT-PMP
 * and PCP off in the daemon; NAT-PMP or PCP alone turns UPnP off.
 *
 * Its config and pid file live in /etc/netns/<router ns>/miniupnpd/, which
 * goes with the namespace (also when a crashed run is swept); the daemon is a
 * lab process, killed when its site or the lab goes.
 */
import { randomUUID } from 'node:crypto';
import { Miniupnpd, type DaemonProcess } from './miniupnpd.js';
import { makeNetnsEtcDir } from './netns-etc.js';

export type PortmapProtocol = 'natpmp' | 'pcp' | 'upnp';
export const PORTMAP_PROTOCOLS: readonly PortmapProtocol[] = ['natpmp', 'pcp', 'upnp'];

/** Which protocols a port-mapping router answers: all three, or one alone. */
export type PortmapChoice = 'all' | PortmapProtocol;
export const PORTMAP_CHOICES: readonly PortmapChoice[] = ['all', ...PORTMAP_PROTOCOLS];

export function protocolsOf(choice: PortmapChoice): readonly PortmapProtocol[] {
  return choice === 'all' ? PORTMAP_PROTOCOLS : [choice];
}

/** NAT-PMP and PCP share UDP 5351; the first payload byte is the protocol version. */
const PMP_PCP_PORT = 5351;
const VERSION: Readonly<Record<'natpmp' | 'pcp', number>> = { natpmp: 0, pcp: 2 };

/**
 * nftables (added to the site's table) that drops the NAT-PMP or PCP
 * version the router must not answer, or null when it answers both (or
 * neither runs).
 */
export function pmpPcpFilter(table: string, lan: string, choice: PortmapChoice): string | null {
  if (choice !== 'natpmp' && choice !== 'pcp') return null;
  const silent = choice === 'natpmp' ? VERSION.pcp : VERSION.natpmp;
  return [
    `table inet ${table} {`,
    `  chain portmap_input {`,
    `    type filter hook input priority filter; policy accept;`,
    // @th,64,8: the byte after the 8-byte UDP header.
    `    iifname ${JSON.stringify(lan)} udp dport ${PMP_PCP_PORT} @th,64,8 ${silent} drop`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** A site router's running port-mapping daemon. */
export interface PortmapRouter {
  readonly choice: PortmapChoice;
  readonly protocols: readonly PortmapProtocol[];
  readonly daemon: Miniupnpd;
}

export interface PortmapRouterSpec {
  /** The router's namespace. */
  ns: string;
  /** The site's nftables table (it already holds miniupnpd's chains, see miniupnpdRuleset). */
  table: string;
  wan: string;
  lan: string;
  /** The LAN allowed to map. */
  insideCidr: string;
  choice: PortmapChoice;
  /** Starts a long-running process in the router's namespace (the lab owns it). */
  spawn: (cmd: string, args: string[]) => DaemonProcess;
  /** Loads an nftables ruleset in the router's namespace. */
  nft: (ruleset: string) => Promise<void>;
}

/** Starts miniupnpd on a site router (and the NAT-PMP/PCP filter for one of them alone); resolves once it listens. */
export async function startPortmapRouter(s: PortmapRouterSpec): Promise<PortmapRouter> {
  const protocols = protocolsOf(s.choice);
  const filter = pmpPcpFilter(s.table, s.lan, s.choice);
  if (filter !== null) await s.nft(filter);
  const daemon = new Miniupnpd(
    s.ns,
    makeNetnsEtcDir(s.ns, 'miniupnpd'),
    {
      natpmp: protocols.includes('natpmp') || protocols.includes('pcp'),
      upnp: protocols.includes('upnp'),
      lan: s.insideCidr,
      uuid: randomUUID(),
      extIf: s.wan,
      listenIf: s.lan,
      table: s.table,
    },
    (_ns, cmd, args) => s.spawn(cmd, args),
  );
  await daemon.start();
  return { choice: s.choice, protocols, daemon };
}

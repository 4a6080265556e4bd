/**
 * The kernel lane's topology, in process: a core router with one link per
 * site; a server host with two public addresses (rendezvous, binding
 * server); per site a NAT router (optionally behind a carrier NAT) with hosts
 * behind it. There is always at least one router hop between two NATs, so a
 * TTL-2 packet leaves its own NAT and dies in the core.
 *
 * Addresses (documentation ranges, as in the kernel lane):
 *   server            198.51.100.2 and 198.51.100.3
 *   site k NAT        public 203.0.113.(10+k), inside 10.(k+1).0.1
 *   site k hosts      10.(k+1).0.2, 10.(k+1).0.3, ...
 *   double NAT        carrier public 203.0.113.(10+k), carrier inside 100.64.(k+1).1,
 *                     home NAT public 100.64.(k+1).2
 *   site without NAT  hosts on the core at 192.0.2.(10+8k+i)
 *
 * IPv6, opt-in per site (`ipv6: 'dual' | 'v6-only'`), with the kernel lane's
 * plan (netsim/kernel/ipv6.ts, site number k+1):
 *   server            2001:db8:ffff::1 and ::2 (when any site has IPv6)
 *   site k prefix     2001:db8:(k+1)::/64 routed to the site router, router ::1,
 *                     hosts ::2, ::3, ... (global addresses, no NAT66) behind
 *                     the router's stateful firewall (firewall6.ts)
 *   site without NAT  the same addresses, on the core, no firewall
 * 'v6-only' hosts have no IPv4 address at all; the site's IPv4 NAT stays (with
 * nobody behind it). The NAT profile governs IPv4 only: `udp-blocked` with
 * `ipv6: 'dual'` is "IPv4 UDP blocked, IPv6 open".
 */
import { at } from '../../src/util/at.js';
import type { LinkProfile } from '../link.js';
import { SERVER_IP6, SERVER_IP6_ALT, siteIpv6Plan, type Ipv6Mode } from '../kernel/ipv6.js';
import type { VirtualScheduler } from './scheduler.js';
import { VirtualNetwork, type NatSpec, type VirtualHost, type VirtualNat, type VirtualRouter } from './network.js';
import { natProfile, type NatProfileName } from './profiles.js';
import type { PortMapRouterOptions } from './portmap-router.js';

export interface SiteSpec {
  name: string;
  /** The site's NAT; null = hosts sit on the core with public addresses. */
  nat: NatSpec | null;
  /** Put the site's NAT behind this carrier-grade NAT (double NAT). */
  carrierNat?: NatSpec;
  /** Number of hosts (named `${name}1`, `${name}2`, ...). Default 1. */
  hosts?: number;
  /** Link between the site and the core, both directions. Default 10 ms. */
  wan?: LinkProfile;
  /** Link between each host and its NAT, both directions. Default 0.5 ms. */
  lan?: LinkProfile;
  /**
   * IPv6 for the site: 'dual' (both families), 'v6-only' (hosts without IPv4),
   * or 'off' (default). Not built behind a carrier NAT (as on the kernel lane).
   */
  ipv6?: Ipv6Mode;
  /**
   * The site's NAT (the home NAT, behind a carrier NAT if any) runs a
   * port-mapping daemon: NAT-PMP and/or PCP on its inside address (see
   * portmap-router.ts). Absent: the router answers nothing on port 5351.
   */
  portmap?: PortMapRouterOptions;
}

export interface TopologyOptions {
  seed: number;
  sites: SiteSpec[];
  /** Link between the server and the core. Default 10 ms. */
  serverLink?: LinkProfile;
  /** Give the server its IPv6 addresses (SERVER_ADDRESSES6). Default: when a site has IPv6. */
  ipv6?: boolean;
  scheduler?: VirtualScheduler;
  recordTrace?: boolean;
}

export interface Site {
  readonly name: string;
  readonly nat: VirtualNat | null;
  readonly carrier: VirtualNat | null;
  readonly hosts: VirtualHost[];
  /** The first host. */
  readonly host: VirtualHost;
  /** Where the site's IPv4 traffic appears on the core (IPv6 hosts appear with their own addresses). */
  readonly publicAddress: string;
  readonly ipv6: Ipv6Mode;
  /** The site's routed IPv6 prefix ('dual', 'v6-only'), else null. */
  readonly prefix6: string | null;
}

export interface Topology {
  readonly network: VirtualNetwork;
  readonly scheduler: VirtualScheduler;
  readonly core: VirtualRouter;
  readonly server: VirtualHost;
  readonly serverAddresses: readonly [string, string];
  /** The server's IPv6 addresses, when the topology has IPv6. */
  readonly serverAddresses6: readonly [string, string] | null;
  readonly sites: Record<string, Site>;
  site(name: string): Site;
}

export const SERVER_ADDRESSES = ['198.51.100.2', '198.51.100.3'] as const;
/** The server's IPv6 addresses (the kernel lane's). */
export const SERVER_ADDRESSES6 = [SERVER_IP6, SERVER_IP6_ALT] as const;
const DEFAULT_WAN: LinkProfile = { delayMs: 10 };
const DEFAULT_LAN: LinkProfile = { delayMs: 0.5 };

export function buildTopology(opts: TopologyOptions): Topology {
  const network = new VirtualNetwork({
    seed: opts.seed,
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
    ...(opts.recordTrace !== undefined ? { recordTrace: opts.recordTrace } : {}),
  });
  const anySiteV6 = opts.sites.some((s) => (s.ipv6 ?? 'off') !== 'off');
  const v6 = opts.ipv6 ?? anySiteV6;
  if (anySiteV6 && !v6) throw new Error('a site with IPv6 needs a topology with ipv6 (the server is dual-stack)');
  const core = network.addRouter('core', ['192.0.2.1']);
  const server = network.addHost('server', v6 ? [...SERVER_ADDRESSES, ...SERVER_ADDRESSES6] : [...SERVER_ADDRESSES]);
  network.attachHost(server, core, opts.serverLink ?? DEFAULT_WAN);

  const sites: Record<string, Site> = {};
  opts.sites.forEach((spec, k) => {
    if (sites[spec.name] !== undefined) throw new Error(`duplicate site ${spec.name}`);
    const wan = spec.wan ?? DEFAULT_WAN;
    const lan = spec.lan ?? DEFAULT_LAN;
    const count = spec.hosts ?? 1;
    const hosts: VirtualHost[] = [];
    const ipv6 = spec.ipv6 ?? 'off';
    const plan = ipv6 === 'off' ? null : siteIpv6Plan(k + 1);
    /** A host's addresses under the site's IPv6 mode. */
    const addressesOf = (ip4: string, i: number): string[] =>
      plan === null ? [ip4] : ipv6 === 'v6-only' ? [plan.hostIp(i)] : [ip4, plan.hostIp(i)];
    const prefix6 = plan?.prefix ?? null;
    if (spec.nat === null) {
      for (let i = 0; i < count; i++) {
        const h = network.addHost(`${spec.name}${i + 1}`, addressesOf(`192.0.2.${10 + 8 * k + i}`, i));
        network.attachHost(h, core, wan);
        hosts.push(h);
      }
      sites[spec.name] = { name: spec.name, nat: null, carrier: null, hosts, host: at(hosts, 0), publicAddress: at(hosts, 0).address, ipv6, prefix6 };
      return;
    }
    if (plan !== null && spec.carrierNat !== undefined) {
      throw new Error(`site ${spec.name}: IPv6 behind a carrier NAT is not built; use ipv6 'off'`);
    }
    const publicAddress = `203.0.113.${10 + k}`;
    let carrier: VirtualNat | null = null;
    let nat: VirtualNat;
    if (spec.carrierNat !== undefined) {
      carrier = network.addNat(`${spec.name}-cgnat`, {
        publicAddress,
        insideAddress: `100.64.${k + 1}.1`,
        nat: spec.carrierNat,
      });
      network.attachNat(carrier, core, wan);
      nat = network.addNat(`${spec.name}-nat`, {
        publicAddress: `100.64.${k + 1}.2`,
        insideAddress: `10.${k + 1}.0.1`,
        nat: spec.nat,
        ...(spec.portmap ? { portmap: spec.portmap } : {}),
      });
      network.attachNat(nat, carrier, lan);
    } else {
      nat = network.addNat(`${spec.name}-nat`, {
        publicAddress,
        insideAddress: `10.${k + 1}.0.1`,
        nat: spec.nat,
        ...(plan !== null ? { ipv6: { prefix: plan.prefix, addresses: [plan.routerIp] } } : {}),
        ...(spec.portmap ? { portmap: spec.portmap } : {}),
      });
      network.attachNat(nat, core, wan);
    }
    for (let i = 0; i < count; i++) {
      const h = network.addHost(`${spec.name}${i + 1}`, addressesOf(`10.${k + 1}.0.${2 + i}`, i));
      network.attachHost(h, nat, lan);
      hosts.push(h);
    }
    sites[spec.name] = { name: spec.name, nat, carrier, hosts, host: at(hosts, 0), publicAddress, ipv6, prefix6 };
  });

  return {
    network,
    scheduler: network.scheduler,
    core,
    server,
    serverAddresses: SERVER_ADDRESSES,
    serverAddresses6: v6 ? SERVER_ADDRESSES6 : null,
    sites,
    site(name: string): Site {
      const s = sites[name];
      if (s === undefined) throw new Error(`no site ${name}`);
      return s;
    },
  };
}

/** The kernel lane's profile names (netsim/kernel/profiles.ts), including its site-level scenarios. */
export type LabProfileName =
  | Exclude<NatProfileName, 'linux-masquerade'>
  | 'hairpin'
  | 'no-hairpin'
  | 'double-nat'
  | 'short-lifetime'
  | 'lossy-core'
  | 'upnp-router';

export const LAB_PROFILE_NAMES: readonly LabProfileName[] = [
  'full-cone',
  'restricted-cone',
  'port-restricted-cone',
  'symmetric-random',
  'symmetric-sequential',
  'udp-blocked',
  'hairpin',
  'no-hairpin',
  'double-nat',
  'short-lifetime',
  'lossy-core',
  'upnp-router',
];

/**
 * Whether the profile's router maps ports on request (upnp-router: the
 * port-mapping daemon, portmap-router.ts). Its peers then ask it, as the
 * kernel matrix runs them with port mapping on.
 */
export function labProfileMapsPorts(profile: LabProfileName): boolean {
  return profile === 'upnp-router';
}

/** A site built like the kernel lane's profile of the same name. */
export function labSite(profile: LabProfileName, name: string, wan: LinkProfile = DEFAULT_WAN): SiteSpec {
  switch (profile) {
    case 'hairpin':
      return { name, nat: natProfile('port-restricted-cone', { hairpin: true }), hosts: 2, wan };
    case 'no-hairpin':
      return { name, nat: 'port-restricted-cone', hosts: 2, wan };
    case 'double-nat':
      return { name, nat: 'port-restricted-cone', carrierNat: 'port-restricted-cone', wan };
    case 'short-lifetime':
      return { name, nat: natProfile('port-restricted-cone', { shortLifetime: true }), wan };
    case 'lossy-core':
      return { name, nat: 'port-restricted-cone', wan: { ...wan, loss: 0.05 } };
    case 'upnp-router':
      // The kernel lane's miniupnpd answers NAT-PMP, PCP and UPnP; in process only NAT-PMP and PCP (no SSDP/HTTP model).
      return { name, nat: 'symmetric-random', portmap: {}, wan };
    default:
      return { name, nat: profile, wan };
  }
}

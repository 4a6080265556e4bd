/**
 * The kernel lab's opt-in IPv6 layer (documentation prefix 2001:db8::/32 only).
 *
 *   core ── 2001:db8:ffff::/64 ── server  ::1 and ::2 (::2 deprecated; core ::fe)
 *        ── 2001:db8:fffe::/64 ── outside ::2          (core ::fe)
 *        ── 2001:db8:0:k::/64  ── nat<k> wan ::2        (core ::1)
 *                                   └─ 2001:db8:k::/64 routed to the LAN, router ::1,
 *                                      hosts ::2, ::3 …  (global addresses, no NAT66)
 *
 * The site router is an RFC 6092 "simple security" firewall (OpenWrt's
 * default): its own `table ip6` forward chain drops by default, lets replies
 * (`ct state established,related`) and everything from the LAN out, and admits
 * the ICMPv6 errors and echo that PMTU discovery and diagnostics need (neighbour
 * discovery is link-local, never forwarded). An inside host opening a flow is
 * what lets the peer's datagrams in: the pinhole UDP hole punching over IPv6
 * relies on, with no port change to predict.
 *
 * DAD trap: duplicate address detection holds a new address "tentative" for
 * about 2 s, and until then neighbour discovery delays packets for seconds (a
 * "dropped" probe arrives late). Every IPv6 namespace gets `accept_dad=0`
 * before its links are created, and addresses are added `nodad` as well.
 *
 * This file builds; lab.ts only calls it where a namespace, the base or a site
 * is made. With IPv6 off (the default) nothing here runs.
 */
import { isIP } from 'node:net';

/** Per site: both families, IPv6 only on the hosts (no IPv4 address or route), or none. */
export type Ipv6Mode = 'dual' | 'v6-only' | 'off';

export const SERVER_IP6 = '2001:db8:ffff::1';
export const SERVER_IP6_ALT = '2001:db8:ffff::2';
export const OUTSIDE_IP6 = '2001:db8:fffe::2';
const SERVER_NET_CORE = '2001:db8:ffff::fe';
const OUTSIDE_NET_CORE = '2001:db8:fffe::fe';

/** What the IPv6 layer needs from the lab (its private helpers, passed in). */
export interface Ipv6Ops {
  ipBatch(ns: string, lines: readonly (readonly string[])[]): Promise<void>;
  nft(ns: string, ruleset: string): Promise<void>;
  /** `ip netns exec NS cmd args…`, to completion. */
  exec(ns: string, cmd: string, args: readonly string[]): Promise<{ stdout: string }>;
}

/**
 * Sysctls of a namespace that takes part in IPv6; applied right after the
 * namespace is made, before any veth exists in it (`default.*` is what new
 * interfaces inherit). No router advertisements are sent in the lab and none
 * are accepted: every address and route is static.
 */
export function ipv6NamespaceSysctls(router: boolean): Record<string, string> {
  return {
    'net.ipv6.conf.all.disable_ipv6': '0',
    'net.ipv6.conf.default.disable_ipv6': '0',
    'net.ipv6.conf.all.accept_dad': '0',
    'net.ipv6.conf.default.accept_dad': '0',
    'net.ipv6.conf.all.accept_ra': '0',
    'net.ipv6.conf.default.accept_ra': '0',
    'net.ipv6.conf.all.forwarding': router ? '1' : '0',
  };
}

/** The addresses of site k (1…31). */
export interface SiteIpv6Plan {
  readonly coreIp: string;
  readonly wanIp: string;
  readonly coreLink: string;
  /** The site's routed global /64. */
  readonly prefix: string;
  readonly routerIp: string;
  hostIp(j: number): string;
}

export function siteIpv6Plan(k: number): SiteIpv6Plan {
  if (!Number.isInteger(k) || k < 1 || k > 0xfffe) throw new Error(`IPv6 site index out of range: ${k}`);
  const x = k.toString(16);
  return {
    coreIp: `2001:db8:0:${x}::1`,
    wanIp: `2001:db8:0:${x}::2`,
    coreLink: `2001:db8:0:${x}::/64`,
    prefix: `2001:db8:${x}::/64`,
    routerIp: `2001:db8:${x}::1`,
    hostIp: (j) => `2001:db8:${x}::${(2 + j).toString(16)}`,
  };
}

const q = (s: string): string => JSON.stringify(s);

/** The RFC 6092 stateful firewall of a site router (family ip6, its own table). */
export function ipv6FirewallRules(c: { table: string; wan: string; lan: string }): string {
  return [
    `table ip6 ${c.table} {`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    `    ct state established,related accept`,
    `    ct state invalid drop`,
    `    iifname ${q(c.lan)} accept`,
    // RFC 4890 / RFC 6092 REC-8..10: errors must pass (PMTU), echo is allowed.
    `    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request } accept`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** Adds the server's and the outside host's IPv6 links (the namespaces already run with ipv6NamespaceSysctls). */
export async function buildBaseIpv6(
  ops: Ipv6Ops,
  n: { core: string; server: string; outside: string; coreServerIf: string; coreOutsideIf: string; upIf: string },
): Promise<void> {
  await ops.ipBatch(n.core, [
    ['addr', 'add', `${SERVER_NET_CORE}/64`, 'dev', n.coreServerIf, 'nodad'],
    ['addr', 'add', `${OUTSIDE_NET_CORE}/64`, 'dev', n.coreOutsideIf, 'nodad'],
  ]);
  await ops.ipBatch(n.server, [
    ['addr', 'add', `${SERVER_IP6}/64`, 'dev', n.upIf, 'nodad'],
    // The second address is for RFC 5780 answers only: deprecated (preferred_lft 0), so the kernel never
    // picks it as the source of a reply from a wildcard-bound socket, like IPv4's secondary .3. Otherwise
    // Linux prefers the newest address, a [::]-bound server answers from ::2 what was asked of ::1, and
    // every firewall on the way drops the answer as unsolicited.
    ['addr', 'add', `${SERVER_IP6_ALT}/64`, 'dev', n.upIf, 'nodad', 'preferred_lft', '0'],
    ['route', 'add', 'default', 'via', SERVER_NET_CORE],
  ]);
  await ops.ipBatch(n.outside, [
    ['addr', 'add', `${OUTSIDE_IP6}/64`, 'dev', n.upIf, 'nodad'],
    ['route', 'add', 'default', 'via', OUTSIDE_NET_CORE],
  ]);
}

/**
 * Routes site k's global /64 from the core to the router and on to its LAN,
 * gives each host a global address and a default route, and loads the
 * firewall. `profileTable` is the site's IPv4 profile table (family inet, so
 * its chains would also see IPv6, and an inet `masquerade` would be NAT66):
 * every base chain of it first accepts IPv6, leaving IPv6 to the ip6 table.
 */
export async function buildSiteIpv6(
  ops: Ipv6Ops,
  s: {
    k: number;
    core: string;
    coreIf: string;
    router: string;
    wan: string;
    lan: string;
    hosts: readonly { ns: string; eth: string }[];
    table: string;
  },
): Promise<{ prefix: string; hostIps: string[] }> {
  const p = siteIpv6Plan(s.k);
  await ops.ipBatch(s.core, [
    ['addr', 'add', `${p.coreIp}/64`, 'dev', s.coreIf, 'nodad'],
    ['route', 'add', p.prefix, 'via', p.wanIp],
  ]);
  await ops.ipBatch(s.router, [
    ['addr', 'add', `${p.wanIp}/64`, 'dev', s.wan, 'nodad'],
    ['route', 'add', 'default', 'via', p.coreIp],
    ['addr', 'add', `${p.routerIp}/64`, 'dev', s.lan, 'nodad'],
    // Without an MLD querier a snooping bridge may withhold neighbour solicitations.
    ['link', 'set', s.lan, 'type', 'bridge', 'mcast_snooping', '0'],
  ]);
  const hostIps: string[] = [];
  for (const [j, h] of s.hosts.entries()) {
    const ip = p.hostIp(j);
    await ops.ipBatch(h.ns, [
      ['addr', 'add', `${ip}/64`, 'dev', h.eth, 'nodad'],
      ['route', 'add', 'default', 'via', p.routerIp],
    ]);
    hostIps.push(ip);
  }
  await ops.nft(s.router, ipv6FirewallRules({ table: s.table, wan: s.wan, lan: s.lan }));
  await yieldIpv6(ops, s.router, s.table);
  return { prefix: p.prefix, hostIps };
}

/** Inserts `meta nfproto ipv6 accept` at the top of every base chain of `table inet T`, if there is one. */
async function yieldIpv6(ops: Ipv6Ops, ns: string, table: string): Promise<void> {
  const r = await ops.exec(ns, 'nft', ['-j', 'list', 'chains', 'inet']);
  const chains = baseChainsOf(r.stdout, table);
  if (chains.length === 0) return;
  await ops.nft(ns, chains.map((c) => `insert rule inet ${table} ${c} meta nfproto ipv6 accept`).join('\n') + '\n');
}

/** Names of the base chains (those with a hook) of inet table `table`, from `nft -j list chains`. */
export function baseChainsOf(json: string, table: string): string[] {
  const doc = JSON.parse(json) as { nftables?: unknown };
  const items = Array.isArray(doc.nftables) ? (doc.nftables as unknown[]) : [];
  const out: string[] = [];
  for (const it of items) {
    if (typeof it !== 'object' || it === null || !('chain' in it)) continue;
    const c = (it as { chain: { family?: unknown; table?: unknown; name?: unknown; hook?: unknown } }).chain;
    if (c.family === 'inet' && c.table === table && typeof c.name === 'string' && typeof c.hook === 'string') {
      if (!/^[A-Za-z0-9_]+$/.test(c.name)) throw new Error(`unexpected nftables chain name ${JSON.stringify(c.name)}`);
      out.push(c.name);
    }
  }
  return out;
}

/** True for an IPv6 address literal. */
export function isIpv6(a: string): boolean {
  return isIP(a) === 6;
}

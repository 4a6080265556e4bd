/**
 * NAT profiles of the kernel lane. Each one is a named, documented object: what
 * it is, which real devices behave so, the nftables ruleset its router(s) load,
 * and what the independent `stun` classifier says about it (observed on this
 * lab; the lab refuses a site whose NAT does not classify as claimed).
 *
 * Rulesets are functions of the site's names and addresses. Interface names
 * carry the run id; `wan` faces the core (or the carrier), `lan` is the bridge
 * the hosts hang off.
 */
import type { ExpectedVerdict } from './stun.js';
import { miniupnpdRuleset } from './miniupnpd.js';

export interface NatRulesContext {
  /** nftables table name (includes the run id). */
  table: string;
  /** Outside interface of this router. */
  wan: string;
  /** Inside interface (a bridge for home NATs, a veth for a carrier NAT). */
  lan: string;
  /** This router's outside address. */
  publicIp: string;
  /** Addresses of the hosts (or downstream routers) inside. */
  inside: readonly string[];
  /** The inside subnet, CIDR. */
  insideCidr: string;
}

export type ProfileName =
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted-cone'
  | 'symmetric-random'
  | 'udp-blocked'
  | 'hairpin'
  | 'no-hairpin'
  | 'double-nat'
  | 'short-lifetime'
  | 'lossy-core'
  | 'upnp-router';

/** What the connectivity checks expect (and what scenarios may rely on). */
export interface ProfileBehaviour {
  /** UDP from a host inside reaches the server. */
  udpOut: boolean;
  /** After the host sent once, a packet from a third address to its public mapping reaches it. */
  unsolicitedAfterSend: boolean;
  /** Host 0 can reach host 1's public mapping (needs two hosts). */
  hairpin: boolean;
  /** UDP mapping lifetime in seconds, if the profile shortens it. */
  udpMappingLifetimeS?: number;
}

export interface NatProfile {
  name: ProfileName;
  /** One line: what it is. */
  title: string;
  /** How it is built and what it does, in a few sentences. */
  description: string;
  /** Real devices that behave like this. */
  realDevices: string;
  /** Hosts behind the (home) NAT. */
  hosts: number;
  /** nftables ruleset of the (home) NAT router. */
  ruleset(ctx: NatRulesContext): string;
  /** For double NAT: the carrier NAT in front of the home NAT. */
  carrier?: { ruleset(ctx: NatRulesContext): string; description: string };
  /** sysctls set inside the (home) NAT router's namespace (after the ruleset is loaded). */
  sysctls?: Readonly<Record<string, string>>;
  /**
   * The router also maps ports on request: Debian's miniupnpd answers
   * NAT-PMP, PCP and UPnP IGD on the LAN (portmap-site.ts; one protocol alone
   * with `addSite(…, { portmap })`). The site's WAN address is then
   * non-reserved (11.0.0.8k+2/29 instead of 203.0.113.8k+2): miniupnpd
   * refuses to forward on a reserved one. The ruleset must hold miniupnpd's
   * chains (miniupnpdRuleset).
   */
  portMapping?: true;
  /** Random UDP loss, percent per direction, on this site's link in the core router. */
  coreLossPercent?: number;
  /** What `stun` says behind this NAT (observed). */
  expect: ExpectedVerdict;
  /**
   * How many classifier runs may be tried; the first matching one wins. 1 except
   * where random loss can make RFC 3489's tests see a lost reply as filtering.
   */
  classifierAttempts?: number;
  behaviour: ProfileBehaviour;
}

const q = (s: string): string => JSON.stringify(s);

/** The default Linux NAT: masquerade; forward inside→out and replies only. */
function masqueradeRules(c: NatRulesContext, opts: { masq?: string; blockUdp?: boolean } = {}): string {
  return [
    `table inet ${c.table} {`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    oifname ${q(c.wan)} ${opts.masq ?? 'masquerade'}`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    ...(opts.blockUdp ? [`    oifname ${q(c.wan)} meta l4proto udp drop`] : []),
    `    ct state established,related accept`,
    `    iifname ${q(c.lan)} accept`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/**
 * Masquerade plus a dynamic map `mapped` from each public UDP port to the
 * inside endpoint that owns it, learned from outgoing packets after source
 * NAT (postrouting, priority 200). Inbound packets that conntrack does not
 * already know are sent to the owner if `admit` allows (full / restricted
 * cone); packets from inside to the router's own public address are sent to
 * the owner with the public address as source (hairpin).
 */
function coneRules(
  c: NatRulesContext,
  opts: { inbound?: 'any' | 'contacted'; hairpin?: boolean },
): string {
  const L: string[] = [
    `table inet ${c.table} {`,
    `  map mapped {`,
    `    type inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout 120s;`,
    `  }`,
  ];
  if (opts.inbound === 'contacted') {
    L.push(`  set contacted {`, `    type inet_service . ipv4_addr; flags dynamic,timeout; timeout 120s;`, `  }`);
  }
  L.push(`  chain learn {`, `    type filter hook postrouting priority 200; policy accept;`);
  L.push(`    oifname ${q(c.wan)} meta l4proto udp update @mapped { udp sport : ct original ip saddr . ct original proto-src }`);
  if (opts.inbound === 'contacted') {
    L.push(`    oifname ${q(c.wan)} meta l4proto udp update @contacted { udp sport . ip daddr }`);
  }
  L.push(`  }`);
  L.push(`  chain prerouting {`, `    type nat hook prerouting priority dstnat; policy accept;`);
  if (opts.inbound === 'any') {
    L.push(`    iifname ${q(c.wan)} meta l4proto udp dnat ip to udp dport map @mapped`);
  } else if (opts.inbound === 'contacted') {
    L.push(`    iifname ${q(c.wan)} meta l4proto udp udp dport . ip saddr @contacted dnat ip to udp dport map @mapped`);
  }
  if (opts.hairpin) {
    L.push(`    iifname ${q(c.lan)} ip daddr ${c.publicIp} meta l4proto udp dnat ip to udp dport map @mapped`);
  }
  L.push(`  }`);
  L.push(`  chain postrouting {`, `    type nat hook postrouting priority srcnat; policy accept;`);
  // iifname is not known in postrouting: a hairpinned packet is one from inside, back out inside, DNATed.
  if (opts.hairpin) L.push(`    ip saddr ${c.insideCidr} oifname ${q(c.lan)} ct status dnat snat ip to ${c.publicIp}`);
  L.push(`    oifname ${q(c.wan)} masquerade`, `  }`);
  L.push(`  chain forward {`, `    type filter hook forward priority filter; policy drop;`);
  L.push(`    ct state established,related accept`, `    iifname ${q(c.lan)} accept`);
  if (opts.inbound) L.push(`    iifname ${q(c.wan)} ct status dnat accept`);
  L.push(`  }`, `}`, '');
  return L.join('\n');
}

const portRestricted: ExpectedVerdict = {
  nat: 'nat',
  mapping: 'independent',
  filtering: 'port',
  ports: 'preserved',
  hairpin: false,
};

const behaviourPR: ProfileBehaviour = { udpOut: true, unsolicitedAfterSend: false, hairpin: false };

export const PROFILES: Readonly<Record<ProfileName, NatProfile>> = {
  'full-cone': {
    name: 'full-cone',
    title: 'Full cone: endpoint-independent mapping and filtering',
    description:
      'Masquerade, plus every inbound UDP packet to a public port that an inside endpoint has used ' +
      '(learned in a dynamic map, 120 s) is forwarded to that endpoint, whoever sends it. No hairpin.',
    realDevices: 'OpenWrt/ASUS "fullcone" NAT builds, many games-console-friendly home routers, some 4G/5G routers.',
    hosts: 1,
    ruleset: (c) => coneRules(c, { inbound: 'any' }),
    expect: { nat: 'nat', mapping: 'independent', filtering: 'independent', ports: 'preserved', hairpin: false },
    behaviour: { udpOut: true, unsolicitedAfterSend: true, hairpin: false },
  },
  'restricted-cone': {
    name: 'restricted-cone',
    title: 'Restricted cone: endpoint-independent mapping, address-dependent filtering',
    description:
      'Like full cone, but an inbound packet is forwarded only if the mapping has sent to that source ' +
      'address before (any port; a dynamic set of public port . remote address, 120 s).',
    realDevices: 'Many consumer routers with "endpoint-independent mapping, address-restricted" firmware (e.g. older Netgear, TP-Link).',
    hosts: 1,
    ruleset: (c) => coneRules(c, { inbound: 'contacted' }),
    expect: { nat: 'nat', mapping: 'independent', filtering: 'address', ports: 'preserved', hairpin: false },
    behaviour: { udpOut: true, unsolicitedAfterSend: false, hairpin: false },
  },
  'port-restricted-cone': {
    name: 'port-restricted-cone',
    title: 'Port-restricted cone: plain Linux masquerade',
    description:
      'The default Linux NAT: `masquerade`, forward only replies (conntrack). Ports are preserved when ' +
      'free. It has the conntrack race: an inbound packet that arrives before the host\'s first outbound ' +
      'packet creates an UNREPLIED entry, and the outbound packet then clashes and gets a new source port.',
    realDevices: 'Nearly every Linux-based home router (OpenWrt default, Fritz!Box, most ISP boxes), Docker/libvirt NAT.',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c),
    expect: portRestricted,
    behaviour: behaviourPR,
  },
  'symmetric-random': {
    name: 'symmetric-random',
    title: 'Symmetric with random ports',
    description: '`masquerade random,fully-random`: every new destination gets a new, random public port.',
    realDevices: 'Carrier-grade NATs and enterprise firewalls with port randomisation (e.g. some mobile operators, pfSense default outbound NAT).',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c, { masq: 'masquerade random,fully-random' }),
    expect: { nat: 'nat', mapping: 'dependent', ports: 'random', hairpin: false },
    behaviour: { udpOut: true, unsolicitedAfterSend: false, hairpin: false },
  },
  'udp-blocked': {
    name: 'udp-blocked',
    title: 'UDP blocked, TCP only',
    description: 'Masquerade, but the forward chain drops every outgoing UDP packet: only TCP leaves.',
    realDevices: 'Corporate and guest networks, some hotel and university firewalls.',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c, { blockUdp: true }),
    expect: { nat: 'blocked' },
    behaviour: { udpOut: false, unsolicitedAfterSend: false, hairpin: false },
  },
  hairpin: {
    name: 'hairpin',
    title: 'Port-restricted cone that hairpins (two hosts behind it)',
    description:
      'Masquerade, plus UDP from inside to the NAT\'s own public address and a mapped port is sent to ' +
      'the inside owner of that mapping, with the public address as source (RFC 4787 REQ-9).',
    realDevices: 'Routers with "NAT loopback"/"NAT reflection" on (OpenWrt with reflection, most recent ISP boxes).',
    hosts: 2,
    ruleset: (c) => coneRules(c, { hairpin: true }),
    expect: { ...portRestricted, hairpin: true },
    behaviour: { udpOut: true, unsolicitedAfterSend: false, hairpin: true },
  },
  'no-hairpin': {
    name: 'no-hairpin',
    title: 'Port-restricted cone without hairpin (two hosts behind it)',
    description:
      'Plain masquerade with two hosts in one LAN: a packet to the NAT\'s own public address is delivered ' +
      'to the router itself, never to the other host. Peers must use their private addresses.',
    realDevices: 'Older or cheaper home routers without NAT loopback; many CGNs.',
    hosts: 2,
    ruleset: (c) => masqueradeRules(c),
    expect: portRestricted,
    behaviour: behaviourPR,
  },
  'double-nat': {
    name: 'double-nat',
    title: 'Double NAT: home NAT behind a carrier NAT',
    description:
      'A port-restricted home NAT whose outside is 100.64.0.0/10 (shared address space), behind a ' +
      'port-restricted carrier NAT that owns the public address. Two conntrack races in series.',
    realDevices: 'A home router on a mobile/fibre line with carrier-grade NAT (DS-Lite, CGNAT on LTE).',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c),
    carrier: { ruleset: (c) => masqueradeRules(c), description: 'plain masquerade (port-restricted cone)' },
    expect: portRestricted,
    behaviour: behaviourPR,
  },
  'short-lifetime': {
    name: 'short-lifetime',
    title: 'Port-restricted cone whose UDP mappings expire after 5 s',
    description:
      'Plain masquerade with net.netfilter.nf_conntrack_udp_timeout and _udp_timeout_stream set to 5 ' +
      'inside this NAT router\'s namespace only: a mapping idle for 5 s is gone.',
    realDevices: 'Some mobile carriers and cheap routers with aggressive UDP timeouts (RFC 4787 asks for at least 2 minutes).',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c),
    sysctls: { 'net.netfilter.nf_conntrack_udp_timeout': '5', 'net.netfilter.nf_conntrack_udp_timeout_stream': '5' },
    expect: portRestricted,
    behaviour: { ...behaviourPR, udpMappingLifetimeS: 5 },
  },
  'lossy-core': {
    name: 'lossy-core',
    title: 'Port-restricted cone behind a lossy core link',
    description:
      'Plain masquerade; the core router drops 5 % of UDP packets in each direction on this site\'s link ' +
      '(nftables `numgen random mod 100 < 5 drop`). No delay or jitter: netem is not available here.',
    realDevices: 'Congested Wi-Fi or mobile uplinks.',
    hosts: 1,
    ruleset: (c) => masqueradeRules(c),
    coreLossPercent: 5,
    expect: portRestricted,
    classifierAttempts: 3,
    behaviour: behaviourPR,
  },
  'upnp-router': {
    name: 'upnp-router',
    title: 'Symmetric with random ports, and the router maps ports on request (NAT-PMP, PCP, UPnP IGD)',
    description:
      '`masquerade random,fully-random` like symmetric-random, plus Debian\'s miniupnpd (nftables backend) on the router: ' +
      'an inside host may ask for a port forward by NAT-PMP, PCP or UPnP IGD v1, and anyone outside can then reach it ' +
      'there. The WAN address is non-reserved (11.0.0.8k+2): miniupnpd refuses to forward on RFC 1918, 100.64/10 or ' +
      'TEST-NET addresses. miniupnpd adds no source-NAT for a mapped port: what the host sends first still leaves from ' +
      'a random port; replies to traffic that came in through the mapping leave from the mapped port.',
    realDevices:
      'pfSense/OPNsense (port-randomising outbound NAT, UPnP & NAT-PMP by miniupnpd), OpenWrt with miniupnpd and a ' +
      'randomising NAT; the port-mapping half is what most consumer routers offer (UPnP/NAT-PMP on).',
    hosts: 1,
    ruleset: (c) => miniupnpdRuleset({ table: c.table, wan: c.wan, lan: c.lan, masquerade: 'masquerade random,fully-random' }),
    portMapping: true,
    // Without a mapping asked for, it is the random-port symmetric NAT (stun cannot ask for one).
    expect: { nat: 'nat', mapping: 'dependent', ports: 'random', hairpin: false },
    behaviour: { udpOut: true, unsolicitedAfterSend: false, hairpin: false },
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function getProfile(name: string): NatProfile {
  const p = (PROFILES as Record<string, NatProfile>)[name];
  if (!p) throw new Error(`unknown NAT profile ${JSON.stringify(name)}; known: ${PROFILE_NAMES.join(', ')}`);
  return p;
}

/**
 * Named NAT profiles, with the same names as the kernel lane's nftables
 * profiles. Each says what it is in RFC 4787 terms, which real devices
 * behave so, and what an RFC 5780-style classifier should report for it.
 */
import type { FilteringBehaviour, MappingBehaviour, NatOptions } from './nat.js';

export type NatProfileName =
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted-cone'
  | 'linux-masquerade'
  | 'symmetric-random'
  | 'symmetric-sequential'
  | 'udp-blocked';

export interface NatProfile {
  readonly name: string;
  /** What the profile models and where such NATs are found. */
  readonly description: string;
  readonly options: NatOptions;
  /** What the classifier must report behind this NAT. */
  readonly expected:
    | { udpBlocked: false; mapping: MappingBehaviour; filtering: FilteringBehaviour; preservesPort: boolean }
    | { udpBlocked: true };
}

const PROFILES: Record<NatProfileName, NatProfile> = {
  'full-cone': {
    name: 'full-cone',
    description:
      'Endpoint-independent mapping and filtering, ports preserved: once an inside socket has sent anything, anyone can reach it ' +
      "on its public port. Consumer routers with a 'full cone' or 'NAT type 1/open' option, some games-console modes, " +
      'UPnP/PCP port forwards. Kernel lane: masquerade + dnat of inbound UDP to a public port an inside endpoint has used; ' +
      'a packet to a port with no mapping still leaves an unreplied conntrack entry, so the clash is modelled too.',
    options: {
      mapping: 'endpoint-independent',
      filtering: 'endpoint-independent',
      portAllocation: 'preserving',
      conntrackClash: true,
    },
    expected: { udpBlocked: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', preservesPort: true },
  },
  'restricted-cone': {
    name: 'restricted-cone',
    description:
      'Endpoint-independent mapping, address-dependent filtering: a remote address the inside host has sent to may reach the ' +
      'mapping from any port. Many older home routers. Kernel lane: masquerade + dnat only from a dynamic set of contacted ' +
      'addresses; packets from other addresses still leave unreplied conntrack entries, so the conntrack clash is modelled too.',
    options: {
      mapping: 'endpoint-independent',
      filtering: 'address-dependent',
      portAllocation: 'preserving',
      conntrackClash: true,
    },
    expected: { udpBlocked: false, mapping: 'endpoint-independent', filtering: 'address-dependent', preservesPort: true },
  },
  'port-restricted-cone': {
    name: 'port-restricted-cone',
    description:
      'Plain Linux masquerade (OpenWrt, most Linux-based home and office routers, Docker hosts): endpoint-independent mapping as ' +
      'long as ports do not clash, address-and-port-dependent filtering, ports preserved, 30 s unreplied / 120 s two-way ' +
      'lifetime, and the conntrack clash: an unsolicited inbound packet from R makes the next outbound flow to R take another port.',
    options: {
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      portAllocation: 'preserving',
      conntrackClash: true,
    },
    expected: {
      udpBlocked: false,
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      preservesPort: true,
    },
  },
  'linux-masquerade': {
    name: 'linux-masquerade',
    description: 'Alias of port-restricted-cone: plain Linux masquerade, with the conntrack clash.',
    options: {
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      portAllocation: 'preserving',
      conntrackClash: true,
    },
    expected: {
      udpBlocked: false,
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      preservesPort: true,
    },
  },
  'symmetric-random': {
    name: 'symmetric-random',
    description:
      'A new random public port for every remote endpoint, address-and-port-dependent filtering: Linux masquerade ' +
      "'random,fully-random', many enterprise firewalls and carrier-grade NATs. Port prediction does not work; " +
      'only birthday probing or a relay.',
    options: {
      mapping: 'address-and-port-dependent',
      filtering: 'address-and-port-dependent',
      portAllocation: 'random',
      conntrackClash: true,
    },
    expected: {
      udpBlocked: false,
      mapping: 'address-and-port-dependent',
      filtering: 'address-and-port-dependent',
      preservesPort: false,
    },
  },
  'symmetric-sequential': {
    name: 'symmetric-sequential',
    description:
      'A new public port for every remote endpoint, handed out in sequence (step 1), address-and-port-dependent filtering: ' +
      'classic PAT on older Cisco/embedded routers and some mobile carriers. The next port is predictable.',
    options: {
      mapping: 'address-and-port-dependent',
      filtering: 'address-and-port-dependent',
      portAllocation: 'sequential',
      portStep: 1,
    },
    expected: {
      udpBlocked: false,
      mapping: 'address-and-port-dependent',
      filtering: 'address-and-port-dependent',
      preservesPort: false,
    },
  },
  'udp-blocked': {
    name: 'udp-blocked',
    description:
      'Outbound UDP dropped except DNS (port 53): guest Wi-Fi, corporate networks that allow only TCP/HTTP proxies. ' +
      'Only a TCP relay works.',
    options: {
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      portAllocation: 'preserving',
      conntrackClash: true,
      blockUdp: true,
    },
    expected: { udpBlocked: true },
  },
};

export const NAT_PROFILE_NAMES = Object.keys(PROFILES) as NatProfileName[];

export interface NatProfileVariant {
  /** Inside hosts reach each other via the public address. */
  hairpin?: boolean;
  /** Mapping lifetime for unreplied and two-way flows alike (the kernel lane's "5 s" NAT sets both sysctls). */
  lifetimeMs?: number;
  /** Shorthand for lifetimeMs: 5000. */
  shortLifetime?: boolean;
}

/** A named profile, optionally with hairpinning or a short mapping lifetime. */
export function natProfile(name: NatProfileName, variant: NatProfileVariant = {}): NatProfile {
  const base = PROFILES[name];
  if (base === undefined) throw new Error(`unknown NAT profile ${String(name)}`);
  const lifetime = variant.lifetimeMs ?? (variant.shortLifetime ? 5_000 : undefined);
  if (variant.hairpin === undefined && lifetime === undefined) return base;
  const suffix = `${variant.hairpin ? '+hairpin' : ''}${lifetime !== undefined ? `+${lifetime / 1000}s` : ''}`;
  return {
    ...base,
    name: `${base.name}${suffix}`,
    description:
      base.description +
      (variant.hairpin ? ' Hairpinning on.' : '') +
      (lifetime !== undefined ? ` Mappings expire after ${lifetime / 1000} s without traffic.` : ''),
    options: {
      ...base.options,
      ...(variant.hairpin !== undefined ? { hairpin: variant.hairpin } : {}),
      ...(lifetime !== undefined ? { unrepliedTimeoutMs: lifetime, streamTimeoutMs: lifetime } : {}),
    },
  };
}

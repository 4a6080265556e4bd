import { addressFamily } from '../../src/net/ip.js';
import { planPunch, type Candidate, type FamilySockets, type PunchStrategy, type SessionNatInfo } from '../../src/punch/index.js';

export interface FamilyPlan {
  /** The IPv4 plan (by the two NATs' behaviour); not direct when there is no IPv4 on one side. */
  v4: PunchStrategy;
  /** Both sides offered IPv6 candidates: probe them. */
  v6: boolean;
  /** The peer's candidates to probe: IPv4 ones only when the IPv4 plan is direct. */
  remote: Candidate[];
  /** Both families' verdicts, for logs and the failure reason. */
  reason: string;
}

/**
 * Each family on its own: IPv4 by the two NATs' behaviour (planPunch); IPv6
 * whenever both sides offered IPv6 candidates (no translation there, or a
 * stateless NPTv6 one; a stateful firewall opens for the flow its own host
 * sends, which a simultaneous send gives both sides).
 */
export function planFamilies(args: {
  /** `reason`: why discovery found no IPv4 UDP here (e.g. "no IPv4 route"), when it knows better than "no STUN answer". */
  local: { nat: SessionNatInfo; sockets: FamilySockets; offeredMapped: boolean; offeredIpv6: boolean; reason?: string | undefined };
  remote: { nat: SessionNatInfo; candidates: readonly Candidate[] };
  birthday: boolean;
  localLeads: boolean;
}): FamilyPlan {
  const { local, remote } = args;
  const remote4 = remote.candidates.filter((c) => addressFamily(c.address) === 4);
  const remote6 = remote.candidates.filter((c) => addressFamily(c.address) === 6);
  const v4: PunchStrategy =
    !local.nat.udp && local.reason !== undefined && local.sockets.v4 !== undefined
      ? { direct: false, reason: `this side: ${local.reason}` }
      : local.sockets.v4 !== undefined && remote4.length > 0
      ? planPunch(local.nat, remote.nat, {
          birthday: args.birthday,
          mapped: { local: local.offeredMapped, remote: remote.candidates.some((c) => c.kind === 'mapped') },
          localLeads: args.localLeads,
        })
      : { direct: false, reason: local.sockets.v4 === undefined ? 'no IPv4 session socket on this side' : 'no IPv4 candidates from the peer' };
  const v6 = local.offeredIpv6 && remote6.length > 0;
  const why6 = v6 ? 'IPv6: both sides offered IPv6 candidates' : `IPv6: ${local.offeredIpv6 ? 'the peer offered none' : 'this side offered none'}`;
  return {
    v4,
    v6,
    remote: [...(v4.direct ? remote4 : []), ...(v6 ? remote6 : [])],
    reason: `${v4.reason}; ${why6}`,
  };
}

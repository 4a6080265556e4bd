/**
 * What a peer learned about its own NAT from the session socket's STUN
 * queries (two server ports on one socket: enough to tell endpoint-
 * independent from endpoint-dependent mapping, and to guess the port step).
 */
export interface SessionNatInfo {
  /** false when no STUN answer came back over UDP: UDP is blocked. */
  udp: boolean;
  mapping: 'independent' | 'dependent' | 'unknown';
  /** Port allocation for new mappings, when the mapping is dependent. */
  allocation: 'preserving' | 'sequential' | 'random' | 'unknown';
  /** Port step of a sequential NAT. */
  step?: number | undefined;
}

export type PunchStrategy =
  | { direct: false; reason: string }
  | {
      direct: true;
      /** Birthday probing: which side opens many sockets ('hard') and which sprays ports ('easy'). */
      birthday: null | { hard: 'local' | 'remote' };
      reason: string;
    };

/**
 * The same pure function runs on both peers with the same two inputs (swapped),
 * so both reach the same plan without another round trip.
 */
export function planPunch(local: SessionNatInfo, remote: SessionNatInfo, opts: { birthday: boolean }): PunchStrategy {
  if (!local.udp) return { direct: false, reason: 'UDP is blocked on this side (no STUN answer over UDP)' };
  if (!remote.udp) return { direct: false, reason: 'UDP is blocked on the peer side (it got no STUN answer over UDP)' };
  const hardRandom = (n: SessionNatInfo) => n.mapping === 'dependent' && n.allocation !== 'sequential';
  if (hardRandom(local) && hardRandom(remote)) {
    return { direct: false, reason: 'both NATs map each destination to a new unpredictable port (symmetric): no punch can meet' };
  }
  if (hardRandom(local) || hardRandom(remote)) {
    const hard = hardRandom(local) ? 'local' : 'remote';
    const easy = hard === 'local' ? remote : local;
    if (easy.mapping === 'dependent') {
      // Birthday probing needs the easy side's probes to leave from one public port.
      return { direct: false, reason: 'one NAT maps each destination to a random port and the other to a new (sequential) one: no punch can meet' };
    }
    const who = hard === 'local' ? 'this side' : 'the peer';
    if (!opts.birthday) {
      return { direct: true, birthday: null, reason: `${who} is behind a symmetric NAT; birthday probing is off, trying plain probes only` };
    }
    return { direct: true, birthday: { hard }, reason: `${who} is behind a symmetric NAT: plain probes, then birthday probing` };
  }
  const seq = [local, remote].some((n) => n.mapping === 'dependent' && n.allocation === 'sequential');
  return {
    direct: true,
    birthday: null,
    reason: seq ? 'a sequential NAT: probing its predicted next ports' : 'both NATs keep one mapping per socket: plain probes',
  };
}

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
      /**
       * Present (true) when this side must let the peer come to its router
       * mapping: it sends nothing unsolicited from its session socket and only
       * answers (and probes back whoever probed it), see planPunch.
       */
      awaitPeer?: true;
    };

export interface PlanOptions {
  birthday: boolean;
  /** Which sides offered a router port mapping (a `mapped` candidate) in this attempt. */
  mapped?: { local: boolean; remote: boolean };
  /**
   * When both sides could wait at their mappings, this one probes (the
   * other's answer is what tells them apart; give the two peers opposite values).
   */
  localLeads?: boolean;
}

/**
 * The same pure function runs on both peers with the same two inputs (swapped),
 * so both reach the same plan without another round trip.
 *
 * A router port mapping (a `mapped` candidate) makes pairs that would
 * otherwise relay direct, and adds one rule where the pair would relay or
 * need birthday probing: a side whose NAT maps each destination to a random
 * port and that has a mapping waits for the peer. Its own first
 * packets would leave through the router's ordinary masquerade (miniupnpd
 * adds no source-NAT for mapped ports), from a port nobody can predict, and
 * the conntrack entry they create for the peer's endpoint would collide with
 * the peer's probes arriving at the mapped port. So the peer probes the
 * mapped candidate; the waiting side answers from the same socket, and the
 * answer leaves from the mapped port (it follows the inbound connection).
 * A mapping that does not forward never answers: the punch fails as usual.
 */
export function planPunch(local: SessionNatInfo, remote: SessionNatInfo, opts: PlanOptions): PunchStrategy {
  if (!local.udp) return { direct: false, reason: 'UDP is blocked on this side (no STUN answer over UDP)' };
  if (!remote.udp) return { direct: false, reason: 'UDP is blocked on the peer side (it got no STUN answer over UDP)' };
  const base = planByNat(local, remote, opts.birthday);
  const mapped = opts.mapped ?? { local: false, remote: false };
  if (!mapped.local && !mapped.remote) return base;
  // Waiting pays off only where the hard side's own probes cannot do the job
  // (the pair would relay, or needs birthday probing); elsewhere they stay as they were.
  const needsMapping = !base.direct || base.birthday !== null;
  const waitsLocal = needsMapping && mapped.local && hardRandom(local);
  const waitsRemote = needsMapping && mapped.remote && hardRandom(remote);
  // Both could wait: exactly one leads, or nobody sends first.
  const awaitPeer = waitsLocal && !(waitsRemote && opts.localLeads === true);
  const peerAwaits = waitsRemote && !(waitsLocal && opts.localLeads !== true);
  const at = mapped.local && mapped.remote ? 'both sides have' : mapped.local ? 'this side has' : 'the peer has';
  const how = awaitPeer ? 'this side waits at its mapping for the peer' : peerAwaits ? 'the peer waits at its mapping' : 'probed first';
  const wait = awaitPeer ? { awaitPeer: true as const } : {};
  if (base.direct) return { ...base, reason: `${base.reason}; ${at} a router port mapping: ${how}`, ...wait };
  return { direct: true, birthday: null, reason: `${base.reason}, but ${at} a router port mapping: ${how}`, ...wait };
}

/** Maps each destination to a new port that cannot be predicted. */
function hardRandom(n: SessionNatInfo): boolean {
  return n.mapping === 'dependent' && n.allocation !== 'sequential';
}

/** The plan from the two NATs' behaviour alone (both have UDP). */
function planByNat(local: SessionNatInfo, remote: SessionNatInfo, birthday: boolean): PunchStrategy {
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
    if (!birthday) {
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

import type { Role } from '../src/role.js';
import type { PeerMode, RelayPolicy } from './peer-defaults.js';

/** What one session setup does with the relay and the direct path. */
export interface SessionPlan {
  /** Join the session's relay link at the rendezvous. */
  relay: boolean;
  /** Run a DirectLink (xtcp: punch a UDP path). */
  direct: boolean;
  /**
   * The relay joins before the session is announced and the punch starts.
   * Otherwise the direct side starts at once and the relay joins when it can.
   */
  relayFirst: boolean;
  /** Without a relay link, a failed punch leaves the session nothing to run on: it ends (the initiator sets up a new one). */
  endWhenPunchFails: boolean;
  /** The peer asked for a direct path this side will not punch: tell it why. */
  declineDirect: string | null;
}

/**
 * The one place that decides relay vs direct, for both roles.
 *
 * The initiator (visitor) decides from its own mode and relay policy and
 * tells the responder in its confirm (`direct: true`); the responder
 * (provider) punches when asked and its own mode allows it, and always joins
 * the relay, since only the visitor knows whether it will use one.
 *
 * Order: the initiator's first bytes go over the relay, so its relay joins
 * first and its punch starts after. The responder's direct side must be
 * listening before the initiator's offers arrive (a visitor with --relay
 * never has no relay, and the responder's join would wait in vain until its
 * timeout), so it starts its punch first; relay-only sessions have nothing
 * else to wait for.
 */
export function planSession(
  role: Role,
  settings: { mode: PeerMode; relay: RelayPolicy },
  initiatorAskedDirect: boolean,
): SessionPlan {
  if (role === 'initiator') {
    const direct = settings.mode === 'xtcp';
    return {
      direct,
      relay: !direct || settings.relay !== 'never',
      relayFirst: true,
      endWhenPunchFails: direct,
      declineDirect: null,
    };
  }
  const direct = initiatorAskedDirect && settings.mode === 'xtcp';
  return {
    direct,
    relay: true,
    relayFirst: !direct,
    // The initiator drives the retries; the responder's session follows it.
    endWhenPunchFails: false,
    declineDirect: initiatorAskedDirect && !direct ? 'the provider allows the relay only (stcp mode)' : null,
  };
}

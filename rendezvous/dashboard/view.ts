import type { NatInfoMessage, PeerRole } from '../../src/control/index.js';
import type { PunchOutcomeCount } from '../punch-broker.js';
import type { PeerId, RelaySession } from '../session-setup.js';
import type { PairOutcome, PeerReportsStats, ReportedFailure, ReportedSession } from './peer-reports.js';

/** A logged-in peer, as the rendezvous knows it. */
export interface ViewPeer {
  id: PeerId;
  role: PeerRole;
  /** Its control connection's address as the rendezvous sees it. */
  remote: string;
  /** Clock time of its login. */
  since: number;
  name?: string;
  /** The NAT it described in its latest punch offer. */
  nat?: NatInfoMessage;
}

/** Everything the rendezvous knows for its dashboard, read at one instant (see RendezvousServer.dashboardView). */
export interface RendezvousView {
  /** The rendezvous's clock (the times above are on it). */
  now: number;
  peers: ViewPeer[];
  /** Service name and the peer providing it. */
  services: [string, PeerId][];
  relaySessions: readonly RelaySession[];
  reported: readonly ReportedSession[];
  failures: readonly ReportedFailure[];
  pairOutcomes: readonly PairOutcome[];
  punchOutcomes: readonly PunchOutcomeCount[];
  reportStats: PeerReportsStats;
  /** What the peers were asked for (null: no reports asked). */
  reportEveryMs: number | null;
}

/** What the dashboard reads: a RendezvousServer (or a Rendezvous, through its server). */
export interface DashboardSource {
  dashboardView(): RendezvousView;
}

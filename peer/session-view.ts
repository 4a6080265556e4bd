import type { TunnelSession } from '../src/session/index.js';
import type { SessionSetup } from './session-setup.js';
import type { UdpSessionView } from './udp/session-flows.js';

/** A running session and its wiring, as a peer shows them to metrics (and, later, to status). */
export interface SessionView {
  readonly session: TunnelSession;
  readonly setup: SessionSetup;
  /** A UDP service's session: its flows and their counts. */
  readonly udp?: UdpSessionView;
}

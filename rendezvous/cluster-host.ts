import type { Scheduler } from '../src/clock/scheduler.js';
import type { ControlErrorCode, ServerMessage } from '../src/control/index.js';
import type { Logger } from '../src/log/logger.js';
import type { PeerId, SessionSetup } from './session-setup.js';

/** What the cluster's two halves (cluster-names.ts, cluster-bridge.ts) need from the server they join to the cluster. */
export interface ClusterHost {
  readonly setup: SessionSetup;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  /** Writes to one of this node's logged-in peers; false if it is gone. */
  sendLocal(peer: PeerId, message: ServerMessage): boolean;
  /** One of this node's logged-in peers is still connected. */
  hasPeer(peer: PeerId): boolean;
  /** Carries out what the setup decided (after it was fed). */
  flush(): void;
  /** Counts a refusal sent from here (answers passed on from another node were counted there). */
  refused(code: ControlErrorCode): void;
}

/** A promise that resolves after `ms` on the host's clock. */
export function sleepOn(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.at(scheduler.now() + ms, resolve));
}

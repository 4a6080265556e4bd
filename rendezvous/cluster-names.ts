import { ControlErrorCode, type ClientMessage } from '../src/control/index.js';
import { isBurrowError } from '../src/errors.js';
import type { RateLimitedLog } from '../src/log/logger.js';
import type { ClusterNode } from './cluster/node.js';
import { sleepOn, type ClusterHost } from './cluster-host.js';
import type { PeerId } from './session-setup.js';

type Register = Extract<ClientMessage, { type: 'register' }>;

/** Registrations whose claims are under way at once (a claim may wait for a dead holder's lease). */
const MAX_CLAIMS_IN_FLIGHT = 1024;

/**
 * A cluster node's service names: a provider's names are claimed in Redis
 * before the session setup registers them, so a name lives on one node of
 * the cluster at a time. A name a live node holds is refused with
 * NAME_TAKEN, naming that node; one whose holder's process is gone is
 * waited for (see claim()). Names no provider here holds any more are
 * released; a name another node took over (claim-lost) is dropped here and
 * its provider told.
 */
export class ClusterNames {
  /** Providers with a registration's claim under way (one each). */
  private readonly claiming = new Set<PeerId>();
  private closed = false;
  /** Registrations refused, and names taken over, because another node holds them. */
  taken = 0;
  private readonly onClaimLost = (name: string, owner: string): void => this.claimLost(name, owner);

  constructor(
    private readonly node: ClusterNode,
    private readonly host: ClusterHost,
    private readonly warnings: RateLimitedLog,
  ) {
    node.on('claim-lost', this.onClaimLost);
  }

  close(): void {
    this.closed = true;
    this.node.off('claim-lost', this.onClaimLost);
  }

  /**
   * A provider registers: its names are claimed in Redis first, then
   * registered here. Names claimed for nothing (refused here, or the
   * provider left meanwhile) are released again.
   */
  register(provider: PeerId, m: Register): void {
    if (this.claiming.has(provider) || this.claiming.size >= MAX_CLAIMS_IN_FLIGHT) {
      this.host.refused(ControlErrorCode.BUSY);
      this.host.sendLocal(provider, { type: 'error', code: ControlErrorCode.BUSY, message: 'a registration is already under way; try again', fatal: false });
      return;
    }
    this.claiming.add(provider);
    void this.claim(m.services).then((taken) => {
      this.claiming.delete(provider);
      if (this.closed) return;
      const { setup } = this.host;
      if (taken === null) {
        setup.handle(provider, m, this.host.scheduler.now());
        this.host.flush();
      } else if (taken === 'full') {
        this.host.refused(ControlErrorCode.FULL);
        this.host.sendLocal(provider, { type: 'error', code: ControlErrorCode.FULL, message: 'this rendezvous node claims as many names as it may', fatal: false });
      } else {
        this.taken++;
        this.host.refused(ControlErrorCode.NAME_TAKEN);
        const message = `service name "${taken.name}" is already registered by a provider on rendezvous node "${taken.owner}"`;
        if (this.host.sendLocal(provider, { type: 'error', code: ControlErrorCode.NAME_TAKEN, message, fatal: false })) {
          this.warnings.log('warn', 'register-refused', { peer: provider, services: m.services.join(','), reason: message });
        }
      }
      for (const name of m.services) if (setup.providerOf(name) === undefined) this.node.release(name);
    }, (err: unknown) => {
      this.claiming.delete(provider);
      this.warnings.log('warn', 'cluster-bridge-error', { what: 'register', error: err instanceof Error ? err.message : String(err) });
    });
  }

  /** A provider left: the names no provider here holds now are released. */
  released(names: readonly string[]): void {
    for (const name of names) if (this.host.setup.providerOf(name) === undefined) this.node.release(name);
  }

  /**
   * Claims the names; null when none is held by another live node, else the
   * first that is. A holder whose process is gone (nobody listens on its bus
   * channel) but whose lease still runs is most likely where this provider
   * came from: its claim is tried again until the lease lapses.
   */
  private async claim(names: readonly string[]): Promise<{ name: string; owner: string } | 'full' | null> {
    const t = this.node.timerTable;
    const giveUpAt = this.host.scheduler.now() + t.leaseTtlMs + t.claimWaitRetryMs;
    for (;;) {
      let answers;
      try {
        answers = await this.node.claim(names);
      } catch (err) {
        if (isBurrowError(err) && err.code === 'ERR_CLUSTER_LIMIT') return 'full';
        throw err;
      }
      const i = answers.findIndex((a) => a.kind === 'taken');
      const a = answers[i];
      const name = names[i];
      if (a === undefined || a.kind !== 'taken' || name === undefined) return null;
      if (this.closed || this.host.scheduler.now() >= giveUpAt || !(await this.holderGone(name))) return { name, owner: a.owner };
      await sleepOn(this.host.scheduler, t.claimWaitRetryMs);
    }
  }

  private async holderGone(name: string): Promise<boolean> {
    const at = await this.node.lookup(name, { fresh: true }).catch(() => undefined);
    if (at === undefined) return false;
    if (at === null) return true;
    const r = await this.node.send(at, { type: 'ping', nonce: '0' });
    return !r.ok && r.code === 'node-gone';
  }

  private claimLost(name: string, owner: string): void {
    const provider = this.host.setup.dropService(name);
    if (provider === undefined) return;
    this.taken++;
    this.host.refused(ControlErrorCode.NAME_TAKEN);
    this.host.sendLocal(provider, {
      type: 'error',
      code: ControlErrorCode.NAME_TAKEN,
      message: `service name "${name}" was taken over by rendezvous node "${owner}" while this node was cut off from the cluster`,
      fatal: false,
    });
  }
}

import { isIPv4 } from 'node:net';
import type { RandomSource } from '../../src/clock/random.js';
import type { Scheduler } from '../../src/clock/scheduler.js';
import type { Logger } from '../../src/log/logger.js';
import type { UdpSocketFactory } from '../../src/net/udp-factory.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { PortMapper, type PortMapEvent, type PortMapProtocol } from '../../src/portmap/index.js';
import type { Candidate } from '../../src/punch/index.js';
import { explainPortMapFailure } from './portmap-explain.js';

/** What the direct path needs of a router port mapper: events in, and close() releases the mapping. */
export interface SessionPortMapper {
  close(): Promise<void>;
}

/**
 * Starts a mapper for one local UDP port (the real one: PortMapper over the
 * runtime's UDP sockets). `prefer`: the protocol that mapped on an earlier
 * attempt; asking only that one skips the probe of the others (UPnP's search
 * alone can outlast the offer's grace).
 */
export type PortMapperFactory = (internalPort: number, onEvent: (event: PortMapEvent) => void, prefer?: PortMapProtocol) => Promise<SessionPortMapper>;

/** 'none': never ask the router (the in-process lab, `--no-portmap`). */
export type PortMapChoice = PortMapperFactory | 'none';

/** The real mapper: the default gateway's NAT-PMP, PCP and UPnP IGD, over the runtime's UDP sockets and clock. */
export function realPortMapper(rt: { udp: UdpSocketFactory; scheduler: Scheduler; random: RandomSource; log: Logger; bindAddress?: string | undefined }): PortMapperFactory {
  // A session socket bound to one address must be mapped for that address, not whichever faces the gateway.
  const local = rt.bindAddress !== undefined && isIPv4(rt.bindAddress) && rt.bindAddress !== '0.0.0.0' ? { localAddress: rt.bindAddress } : {};
  return (internalPort, onEvent, prefer) =>
    PortMapper.start({ internalPort, onEvent, udp: rt.udp, scheduler: rt.scheduler, random: rt.random, log: rt.log, ...local, ...(prefer ? { protocols: [prefer] } : {}) });
}

/** Releases still under way (process exit waits for them, bounded: see releasePortMappings). */
const releasing = new Set<Promise<void>>();

/**
 * Waits until every mapping the direct path ever asked for has been given
 * back to its router, or `timeoutMs` passed. The CLI calls it on its way out
 * (SIGINT/SIGTERM), after the peers closed their sessions.
 */
export async function releasePortMappings(timeoutMs: number): Promise<void> {
  if (releasing.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  // Not unref'd: the caller's exit code comes after this wait, which must end even if nothing else keeps the process up.
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.allSettled([...releasing]).then(() => undefined), timeout]);
  clearTimeout(timer);
}

function track(p: Promise<void>): void {
  releasing.add(p);
  void p.finally(() => releasing.delete(p));
}

type Verdict = 'pending' | 'mapped' | 'none';

/**
 * The router port mapping of one attempt's session socket, as the direct
 * path sees it: pending until the mapper's first verdict, then a mapped
 * endpoint (offered as a `mapped` candidate) or none, and why. An external
 * address in private, shared, loopback or unspecified space means another
 * NAT sits above the router: the mapper refuses it and nothing is offered.
 * Logs every verdict as a `portmap` event.
 */
export class AttemptPortMap {
  private verdict: Verdict = 'pending';
  private endpoint: (UdpEndpoint & { protocol: PortMapProtocol }) | null = null;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** The offer went out: a mapping granted after it waits for the next attempt. */
  private offered = false;
  private grantedLate = false;
  /** The attempt is over but the router has not answered yet: learn what it says, then release. */
  private retiring = false;
  private readonly mapper: Promise<SessionPortMapper | null>;

  /**
   * `learned` hears which protocol mapped (null: none did), for the next
   * attempt's `prefer`.
   */
  constructor(
    factory: PortMapperFactory,
    private readonly internalPort: number,
    private readonly attempt: number,
    private readonly log: Logger,
    prefer: PortMapProtocol | null = null,
    private readonly learned: (protocol: PortMapProtocol | null) => void = () => {},
  ) {
    let started: Promise<SessionPortMapper>;
    try {
      started = prefer === null ? factory(internalPort, (e) => this.onEvent(e)) : factory(internalPort, (e) => this.onEvent(e), prefer);
    } catch (err) {
      started = Promise.reject(err);
    }
    this.mapper = started.then(
      (m) => m,
      (err: unknown) => {
        // No gateway, no local address, socket refused: no mapping this attempt, the direct path goes on without.
        this.log.info('portmap', { attempt, port: internalPort, outcome: 'unavailable', reason: err instanceof Error ? err.message : String(err) });
        this.settle('none');
        return null;
      },
    );
  }

  /** The mapped endpoint, if the router granted one that is worth advertising. */
  get mapped(): (UdpEndpoint & { protocol: PortMapProtocol }) | null {
    return this.endpoint;
  }

  /**
   * The router may still map (no verdict yet) or mapped after this attempt's
   * offer: the next attempt may offer what this one could not.
   */
  get mayMapLater(): boolean {
    return this.verdict === 'pending' || (this.grantedLate && this.endpoint !== null);
  }

  /** Resolves at the mapper's first verdict or at `deadline` (scheduler time), whichever comes first. */
  settledBy(scheduler: Scheduler, deadline: number): Promise<void> {
    if (this.verdict !== 'pending' || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = scheduler.at(Math.max(deadline, scheduler.now()), () => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      });
      const done = (): void => {
        timer.cancel();
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /** The candidate to offer now (marks the offer as sent, whatever it held). */
  offer(): Candidate | null {
    this.offered = true;
    if (this.verdict === 'pending') {
      this.log.info('portmap', { attempt: this.attempt, port: this.internalPort, outcome: 'pending', reason: 'no answer from the router within the grace; a later mapping is offered on the next attempt' });
    }
    return this.endpoint === null ? null : { kind: 'mapped', address: this.endpoint.address, port: this.endpoint.port };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The attempt's socket is gone. A mapping is given back now; a router that
   * has not answered yet is heard out first (the mapper's own waits bound
   * that), so the next attempt learns which protocol works — otherwise a
   * router slower than the grace would be asked afresh, and too late, on
   * every attempt. Whatever it maps is released at once.
   */
  retire(): void {
    if (this.closed) return;
    if (this.verdict !== 'pending') return this.close();
    this.retiring = true;
  }

  /** Gives the mapping back to the router (bounded, in the background; process exit waits for it). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endpoint = null;
    this.settle('none');
    track(
      this.mapper.then(async (m) => {
        if (m === null) return;
        try {
          await m.close();
        } catch (err) {
          this.log.warn('portmap', { attempt: this.attempt, port: this.internalPort, outcome: 'release-failed', reason: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
  }

  private onEvent(e: PortMapEvent): void {
    if (this.closed) return;
    const base = { attempt: this.attempt, port: this.internalPort };
    switch (e.type) {
      case 'mapped': {
        this.endpoint = { address: e.externalAddress, port: e.externalPort, protocol: e.protocol };
        if (this.offered) this.grantedLate = true;
        this.learned(e.protocol);
        const when = this.retiring
          ? 'after the attempt ended: released; the next attempt asks this protocol only'
          : this.offered
            ? 'after the offer: the next attempt offers a mapping'
            : 'offered as a mapped candidate';
        this.log.info('portmap', { ...base, outcome: 'mapped', protocol: e.protocol, external: `${e.externalAddress}:${e.externalPort}`, lifetimeSeconds: e.lifetimeSeconds, offer: when });
        this.settle('mapped');
        if (this.retiring) this.close();
        return;
      }
      case 'lost':
        this.endpoint = null;
        this.log.warn('portmap', { ...base, outcome: 'lost', protocol: e.protocol, reason: e.reason });
        return;
      case 'failed': {
        this.endpoint = null;
        const aboveNat = e.kind === 'behind-nat' || e.kind === 'no-address';
        this.learned(null);
        const fields = { ...base, outcome: aboveNat ? 'not-advertised' : 'none', kind: e.kind, reason: explainPortMapFailure(e) };
        if (aboveNat) this.log.warn('portmap', fields);
        else this.log.info('portmap', fields);
        this.settle('none');
        if (this.retiring) this.close();
        return;
      }
    }
  }

  private settle(v: Exclude<Verdict, 'pending'>): void {
    if (this.verdict === 'pending') this.verdict = v;
    const w = this.waiters;
    this.waiters = [];
    for (const done of w) done();
  }
}

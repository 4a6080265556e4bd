/**
 * The UDP side of talking to a gateway: one control socket, NAT-PMP/PCP
 * request/answer exchanges with retransmission, and SSDP searches. Answers
 * are accepted only from the gateway's address; a datagram that does not
 * decode is dropped and counted, never thrown.
 */
import type { Scheduler, TimerHandle } from '../clock/scheduler.js';
import type { UdpEndpoint, UdpSocket } from '../net/udp-socket.js';
import { NATPMP_PORT } from './natpmp.js';
import { RetransmitSchedule, type RetransmitPolicy } from './retransmit.js';
import { IGD_V1, SSDP_ALL, SSDP_MULTICAST, SSDP_PORT, encodeMSearch, parseSsdpAnswer, type SsdpAnswer } from './ssdp.js';

/** Returns the decoded answer, or undefined when the datagram is not ours (it may throw on malformed input). */
export type AnswerMatcher<T> = (data: Buffer) => T | undefined;

interface Waiter {
  offer(data: Buffer): boolean;
  cancel(): void;
}

/** Upper bound on concurrent exchanges (the mapper runs at most a probe's worth at once). */
const MAX_WAITERS = 16;
const MAX_SSDP_ANSWERS = 16;

export class GatewayLink {
  private readonly waiters = new Set<Waiter>();
  private search: { answers: SsdpAnswer[]; enough: (a: SsdpAnswer) => boolean; finish: () => void; endsAt: number; timer: TimerHandle | null } | null =
    null;
  private closedFlag = false;
  /** Datagrams that failed to decode, or came from elsewhere. */
  dropped = 0;

  constructor(
    private readonly socket: UdpSocket,
    readonly gateway: string,
    private readonly scheduler: Scheduler,
  ) {
    socket.onMessage((data, from) => this.receive(data, from));
    socket.onError(() => {
      /* UDP send errors show up as timeouts */
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Sends `request` to the gateway's port 5351 on `policy`'s schedule until
   * `match` accepts an answer; resolves to it, or to null on timeout/close.
   */
  exchange<T>(request: Uint8Array, match: AnswerMatcher<T>, policy: RetransmitPolicy): Promise<T | null> {
    return new Promise((resolve) => {
      if (this.closedFlag || this.waiters.size >= MAX_WAITERS) {
        resolve(null);
        return;
      }
      const schedule = new RetransmitSchedule(policy, this.scheduler.now());
      let timer: TimerHandle | null = null;
      const waiter: Waiter = {
        offer: (data) => {
          let answer: T | undefined;
          try {
            answer = match(data);
          } catch {
            return false; // counted by receive() unless another exchange takes it
          }
          if (answer === undefined) return false;
          done(answer);
          return true;
        },
        cancel: () => done(null),
      };
      const done = (value: T | null): void => {
        if (!this.waiters.delete(waiter)) return;
        timer?.cancel();
        resolve(value);
      };
      const tick = (): void => {
        const now = this.scheduler.now();
        if (this.closedFlag || schedule.expired(now)) {
          done(null);
          return;
        }
        if (schedule.sendDue(now)) this.socket.send(request, { address: this.gateway, port: NATPMP_PORT });
        timer = this.scheduler.at(schedule.nextDeadline(), tick);
      };
      this.waiters.add(waiter);
      tick();
    });
  }

  /**
   * M-SEARCH for an IGD: unicast to the gateway first (host firewalls may drop
   * multicast answers), then multicast for IGD:1, then ssdp:all (which draws
   * one answer per device and service, so it goes last). Collects answers
   * from the gateway; resolves at the first one `enough` accepts, or after
   * `waitMs`.
   */
  searchSsdp(waitMs: number, enough: (a: SsdpAnswer) => boolean): Promise<SsdpAnswer[]> {
    return new Promise((resolve) => {
      if (this.closedFlag || this.search !== null) {
        resolve([]);
        return;
      }
      const answers: SsdpAnswer[] = [];
      const finish = (): void => {
        if (this.search !== search) return;
        this.search = null;
        search.timer?.cancel();
        resolve(answers);
      };
      const endsAt = this.scheduler.now() + waitMs;
      const search: NonNullable<GatewayLink['search']> = { answers, enough, finish, endsAt, timer: null };
      this.search = search;
      this.socket.send(encodeMSearch(IGD_V1), { address: this.gateway, port: SSDP_PORT });
      this.socket.send(encodeMSearch(IGD_V1), { address: SSDP_MULTICAST, port: SSDP_PORT });
      this.socket.send(encodeMSearch(SSDP_ALL), { address: SSDP_MULTICAST, port: SSDP_PORT });
      search.timer = this.scheduler.at(endsAt, finish);
    });
  }

  /** Ends the running SSDP search at most `ms` from now (never later than it would have ended). */
  shortenSsdpSearch(ms: number): void {
    const search = this.search;
    if (search === null) return;
    const endsAt = this.scheduler.now() + ms;
    if (endsAt >= search.endsAt) return;
    search.endsAt = endsAt;
    search.timer?.cancel();
    search.timer = this.scheduler.at(endsAt, search.finish);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const w of [...this.waiters]) w.cancel();
    this.search?.finish();
    this.socket.close();
  }

  private receive(data: Buffer, from: UdpEndpoint): void {
    if (unmapV4(from.address) !== this.gateway) {
      this.dropped++;
      return;
    }
    if (from.port === NATPMP_PORT) {
      for (const w of this.waiters) if (w.offer(data)) return;
      this.dropped++;
      return;
    }
    // SSDP answers come from whatever port the device likes (miniupnpd: not 1900). ssdp:all draws one
    // answer per device and service: past the cap, or after the search, they are just ignored.
    const search = this.search;
    if (search === null || search.answers.length >= MAX_SSDP_ANSWERS) return;
    let answer: SsdpAnswer;
    try {
      answer = parseSsdpAnswer(data);
    } catch {
      this.dropped++;
      return;
    }
    search.answers.push(answer);
    if (search.enough(answer)) search.finish();
  }
}

function unmapV4(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
}

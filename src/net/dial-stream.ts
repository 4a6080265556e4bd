/**
 * Connects a stream to HOST:PORT where HOST may be a name with A and AAAA
 * records: resolves it to every address and races them with Happy Eyeballs
 * (happy-eyeballs.ts). The thin I/O shell around HappyEyeballsRace.
 *
 * An IP literal, or a name with one address, connects at once exactly as
 * StreamTransport.connect does (failures arrive as the socket's 'error'), so
 * callers that already handle that keep working; only a real race waits for
 * a winner before handing the socket over.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { after, type Scheduler, type TimerHandle } from '../clock/scheduler.js';
import { BurrowError } from '../errors.js';
import { HappyEyeballsRace, interleaveFamilies, type RaceAction } from './happy-eyeballs.js';
import type { StreamConnectOptions, StreamSocket, StreamTransport } from './stream-transport.js';

/** Every address a name resolves to (A and AAAA); rejects with the resolver's error (its `code`: ENOTFOUND...). */
export type HostLookup = (host: string) => Promise<string[]>;

export const dnsLookupAll: HostLookup = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface DialDeps {
  transport: StreamTransport;
  scheduler: Scheduler;
  /** Default dnsLookupAll. */
  lookup?: HostLookup | undefined;
}

export interface DialOptions extends StreamConnectOptions {
  /** Happy Eyeballs' Connection Attempt Delay (default HAPPY_EYEBALLS_TIMERS.attemptDelayMs). */
  attemptDelayMs?: number;
  /**
   * Addresses of the name that failed the caller last time: tried after the
   * others. A frozen server still completes TCP handshakes (the kernel
   * answers), so it would win every race and never log anyone in.
   */
  tryLast?: ReadonlySet<string>;
}

export interface Dial {
  /** The socket (connected, or for a single address still connecting); rejects with ERR_CONNECT_FAILED. */
  readonly socket: Promise<StreamSocket>;
  /** Gives up: destroys every attempt; `socket` rejects if it has not resolved yet. */
  cancel(): void;
}

const ignore = (): void => {};

export function dialStream(deps: DialDeps, opts: DialOptions): Dial {
  const { attemptDelayMs, tryLast, ...connectOpts } = opts;
  const where = isIP(opts.host) === 6 ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  let cancelled = false;
  let settled = false;
  let timer: TimerHandle | null = null;
  const attempts = new Map<number, StreamSocket>();
  let reject!: (err: BurrowError) => void;
  let resolve!: (s: StreamSocket) => void;
  const socket = new Promise<StreamSocket>((res, rej) => {
    resolve = (s) => {
      settled = true;
      res(s);
    };
    reject = (e) => {
      settled = true;
      rej(e);
    };
  });
  const drop = (s: StreamSocket): void => {
    s.on('error', ignore);
    s.destroy();
  };

  const race = (addresses: string[]): void => {
    const errors: string[] = [];
    const run = (r: HappyEyeballsRace, actions: RaceAction[]): void => {
      for (const a of actions) {
        if (a.kind === 'attempt') {
          const s = deps.transport.connect({ ...connectOpts, host: a.address });
          attempts.set(a.index, s);
          const onError = (err: NodeJS.ErrnoException): void => {
            s.off('connect', onConnect);
            drop(s);
            attempts.delete(a.index);
            errors.push(`${isIP(a.address) === 6 ? `[${a.address}]` : a.address}: ${err.code ?? err.message}`);
            run(r, r.failed(a.index, deps.scheduler.now()));
          };
          const onConnect = (): void => {
            s.off('error', onError);
            run(r, r.connected(a.index));
          };
          s.once('error', onError);
          s.once('connect', onConnect);
        } else if (a.kind === 'won') {
          timer?.cancel();
          for (const i of a.losers) {
            const l = attempts.get(i);
            if (l !== undefined) drop(l);
          }
          const w = attempts.get(a.index);
          attempts.clear();
          if (w !== undefined) resolve(w);
        } else {
          timer?.cancel();
          reject(new BurrowError('ERR_CONNECT_FAILED', `cannot connect to ${where}: ${errors.join(', ')}`));
        }
      }
      if (settled) return;
      timer?.cancel();
      const at = r.deadline();
      timer = at === null ? null : deps.scheduler.at(at, () => run(r, r.timeout(deps.scheduler.now())));
    };
    const r = new HappyEyeballsRace(addresses, attemptDelayMs);
    run(r, r.start(deps.scheduler.now()));
  };

  if (isIP(opts.host) !== 0) {
    resolve(deps.transport.connect(connectOpts));
  } else {
    (deps.lookup ?? dnsLookupAll)(opts.host).then(
      (found) => {
        if (cancelled) return;
        const addresses =
          tryLast === undefined || tryLast.size === 0
            ? interleaveFamilies(found)
            : [...interleaveFamilies(found.filter((a) => !tryLast.has(a))), ...interleaveFamilies(found.filter((a) => tryLast.has(a)))];
        const only = addresses[0];
        if (only === undefined) reject(new BurrowError('ERR_CONNECT_FAILED', `cannot connect to ${where}: the name has no IPv4 or IPv6 address`));
        else if (addresses.length === 1) resolve(deps.transport.connect({ ...connectOpts, host: only }));
        else race(addresses);
      },
      (err: unknown) => {
        if (cancelled) return;
        const code = (err as NodeJS.ErrnoException | null)?.code ?? String(err);
        reject(new BurrowError('ERR_CONNECT_FAILED', `cannot resolve ${opts.host} (${code})`, { cause: err }));
      },
    );
  }

  return {
    socket,
    cancel(): void {
      if (cancelled) return;
      cancelled = true;
      timer?.cancel();
      for (const s of attempts.values()) drop(s);
      attempts.clear();
      if (!settled) reject(new BurrowError('ERR_CONNECT_FAILED', `connecting to ${where} cancelled`));
    },
  };
}

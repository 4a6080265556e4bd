/**
 * In-process scenario: a third host on the core sprays forged and replayed
 * probe datagrams at one peer's public mapping while the two peers punch.
 *
 * The victim (the provider) sits behind a full-cone NAT, so everything the
 * attacker sends reaches its session socket; the visitor behind a
 * port-restricted cone. The attacker has a faster link (1 ms) than the peers
 * (10 ms), so its replays arrive before the genuine datagrams they copy. From
 * its own address it sends:
 *  - random bytes (1..1200),
 *  - forged probes: 0xb2 then random bytes (probe-sized and other sizes),
 *  - replays: every punch-kind datagram (0xb2: primes, probes, acks) either
 *    peer sends is captured as it leaves the peer (a tap on the peers'
 *    sockets: an on-path observer) and re-sent at once to the victim's public
 *    mapping; the latest captures are re-sent again with the spray; and
 *    whatever the victim sends the attacker is bounced back to it.
 * The attacker learns the victim's mapping from the first captured datagram
 * aimed at the victim's public address, and sprays from then until both
 * peers have locked (plus a margin).
 * Wanted: both peers lock onto each other's real public mapping, never the
 * attacker's address, and the session's bytes arrive intact.
 */
import { performance } from 'node:perf_hooks';
import { SCENARIOS, faultOf } from '../../scenarios/spec.js';
import type { UdpEndpoint } from '../../../src/net/udp-socket.js';
import { SeededRandom } from '../../random.js';
import { VirtualSessionLab } from '../lab.js';
import type { LabProfileName } from '../topology.js';
import { finish, type VirtualScenarioBase } from './common.js';

const SPEC = SCENARIOS['probe-replay'];
const PROBE_KIND = 0xb2;
const PROBE_LENGTH = 65;
/** Genuine datagrams kept for replay (a bounded ring). */
const CAPTURE_MAX = 64;
/** The spray stops after this much virtual time whatever happens. */
const SPRAY_LIMIT_MS = 30_000;

export interface VirtualSprayOptions {
  seed?: number;
  /** Bytes each way after the punch. Default 1 MiB. */
  sizeBytes?: number;
  /** The victim's (provider's) profile. Default: the spec's (full-cone: nothing of the spray is filtered before burrow sees it). */
  victimProfile?: LabProfileName;
  /** Spray period, virtual ms (three datagrams per period: random, forged, replay). Default: the spec's. */
  everyMs?: number;
  /** The visitor's profile. Default: the spec's. */
  visitorProfile?: LabProfileName;
  /** Keep spraying this long after both peers locked (virtual ms). Default 1000. */
  afterLockMs?: number;
}

export interface VirtualSprayResult extends VirtualScenarioBase {
  attacker: string;
  /** The victim's public mapping as the attacker learned it. */
  target: string | null;
  /** Datagrams the attacker sent, by kind, and their bytes. */
  sent: { random: number; forged: number; replayed: number; bounced: number; bytes: number };
  /** Attacker datagrams that reached the victim's socket (the virtual network's trace). */
  reachedVictim: number;
  /** Datagrams (and bytes) the victim sent to the attacker: acks to replayed probes, triggered probes. */
  victimToAttacker: { datagrams: number; bytes: number };
  /** Where each peer locked its direct path ("address:port" of every direct-up). */
  providerLocked: string[];
  visitorLocked: string[];
  /** Each peer's real public address. */
  providerPublic: string;
  visitorPublic: string;
  upVerified: boolean;
  downVerified: boolean;
  transferError?: string;
}

export async function virtualSprayScenario(opts: VirtualSprayOptions = {}): Promise<VirtualSprayResult> {
  const real0 = performance.now();
  const seed = opts.seed ?? 9;
  const size = opts.sizeBytes ?? 1024 * 1024;
  const everyMs = opts.everyMs ?? faultOf('probe-replay', 'replay').everyMs;
  const afterLockMs = opts.afterLockMs ?? 1000;
  const captured: Buffer[] = [];
  let replayNow: ((data: Buffer, to: UdpEndpoint) => void) | null = null;
  const lab = await VirtualSessionLab.start({
    provider: opts.victimProfile ?? SPEC.topology.provider,
    visitor: opts.visitorProfile ?? SPEC.topology.visitor,
    seed,
    mode: 'xtcp',
    upBytes: size,
    downBytes: size,
    recordTrace: true,
    extraSites: [{ name: 'x', nat: null, wan: { delayMs: 1 } }],
    udpTap: (_role, data, to) => {
      if (data[0] !== PROBE_KIND) return;
      if (captured.length >= CAPTURE_MAX) captured.shift();
      captured.push(data);
      replayNow?.(data, to);
    },
  });
  const victimPublic = lab.topo.site('a').publicAddress;
  const attackerHost = lab.topo.site('x').host;
  const sock = attackerHost.bind({});
  const attacker = `${sock.localEndpoint().address}:${sock.localEndpoint().port}`;
  const rng = new SeededRandom(seed ^ 0xa77ac4);
  const sent = { random: 0, forged: 0, replayed: 0, bounced: 0, bytes: 0 };
  // A holder, so the closures below can set it (TypeScript does not track closure writes to a let).
  const aim: { target: UdpEndpoint | null } = { target: null };
  let stopAt = lab.now + SPRAY_LIMIT_MS;
  let stopped = false;
  const send = (data: Buffer, kind: keyof Omit<typeof sent, 'bytes'>): void => {
    if (stopped || aim.target === null) return;
    sock.send(data, aim.target);
    sent[kind]++;
    sent.bytes += data.length;
  };
  // What the victim sends us goes straight back to it.
  sock.onMessage((data) => lab.scheduler.defer(() => send(Buffer.from(data), 'bounced')));
  replayNow = (data, to) => {
    // The first genuine datagram aimed at the victim's public address gives its mapping away.
    if (aim.target === null && to.address === victimPublic) {
      aim.target = { address: to.address, port: to.port };
      lab.scheduler.defer(tick);
    }
    lab.scheduler.defer(() => send(Buffer.from(data), 'replayed'));
  };
  const tick = (): void => {
    if (stopped) return;
    if (lab.now >= stopAt) {
      stopped = true;
      return;
    }
    send(rng.bytes(rng.int(1, 1200)), 'random');
    const forged = rng.bytes(rng.chance(0.5) ? PROBE_LENGTH : rng.int(2, 200));
    forged[0] = PROBE_KIND;
    send(forged, 'forged');
    const again = captured[rng.int(0, captured.length - 1)];
    if (again !== undefined) send(Buffer.from(again), 'replayed');
    lab.scheduler.at(lab.now + everyMs, tick);
  };

  let error: string | undefined;
  let upVerified = false;
  let downVerified = false;
  let transferError: string | undefined;
  let directMs: number | null = null;
  try {
    if (!(await lab.waitSession(60_000))) throw new Error(lab.fatal ?? 'no session within 60 s (virtual)');
    // Both peers locked (or the punch settled otherwise), then the margin.
    const bothUp = (): boolean => lab.log('visitor', 'direct-up').length > 0 && lab.log('provider', 'direct-up').length > 0;
    directMs = await lab.waitPunchSettled(20_000);
    await lab.runUntil(bothUp, 5_000);
    stopAt = Math.min(stopAt, lab.now + afterLockMs);
    await lab.runUntil(() => stopped, afterLockMs + everyMs + 1);
    stopped = true;
    const r = await lab.requestToEnd(120_000);
    upVerified = r.upVerified;
    downVerified = r.downVerified;
    if (!r.ok) transferError = r.error ?? 'failed';
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  stopped = true;
  sock.close();
  const locked = (who: 'provider' | 'visitor'): string[] => lab.log(who, 'direct-up').map((e) => String(e.fields.remote));
  const providerLocked = locked('provider');
  const visitorLocked = locked('visitor');
  const attackerAddress = sock.localEndpoint().address;
  const trace = lab.topo.network.trace.events;
  const victimNode = lab.providerHost.name;
  const reachedVictim = trace.filter((e) => e.kind === 'recv' && e.node === victimNode && e.from.startsWith(`${attackerAddress}:`)).length;
  const toAttacker = trace.filter((e) => e.kind === 'send' && e.node === victimNode && e.to.startsWith(`${attackerAddress}:`));
  const base = await finish(lab, seed, directMs, real0, error);
  return {
    ...base,
    attacker,
    target: aim.target === null ? null : `${aim.target.address}:${aim.target.port}`,
    sent,
    reachedVictim,
    victimToAttacker: { datagrams: toAttacker.length, bytes: toAttacker.reduce((n, e) => n + e.len, 0) },
    providerLocked,
    visitorLocked,
    providerPublic: victimPublic,
    visitorPublic: lab.topo.site('b').publicAddress,
    upVerified,
    downVerified,
    ...(transferError !== undefined ? { transferError } : {}),
  };
}

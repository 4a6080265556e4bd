/**
 * In-process scenario: a third host on the core sprays forged and replayed
 * probe datagrams at one peer's public mapping while the two peers punch.
 *
 * The victim (the provider) sits behind a full-cone NAT, so everything the
 * attacker sends reaches its session socket; the visitor behind a
 * port-restricted cone. The attacker has a faster link (1 ms) than the peers
 * (10 ms), so its replays arrive before the genuine datagrams they copy. It
 * sends, from its own address:
 *  - random bytes (1..1200),
 *  - forged probes: 0xb2 then random bytes (probe-sized and other sizes),
 *  - replays of genuine datagrams: every punch-kind datagram (0xb2: primes,
 *    probes, acks) either peer sends is captured as it leaves the peer (a tap
 *    on the peer's sockets, i.e. an on-path observer) and re-sent at once to
 *    the victim's public mapping, and whatever the victim sends the attacker
 *    is bounced back to it.
 * Wanted: both peers lock onto each other's real public mapping, never the
 * attacker's address, and the session's bytes arrive intact.
 */
import { performance } from 'node:perf_hooks';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { SeededRandom } from '../random.js';
import { finish, startDirect, type VirtualScenarioBase } from './virtual-common.js';
import { VirtualSessionLab } from '../matrix/virtual-lab.js';
import type { LabProfileName } from '../virtual/topology.js';

const PROBE_KIND = 0xb2;
/** Genuine datagrams kept for replay (a bounded ring). */
const CAPTURE_MAX = 256;

export interface VirtualSprayOptions {
  seed?: number;
  /** Bytes each way after the punch. Default 1 MiB. */
  sizeBytes?: number;
  /** The victim's (provider's) profile. Default full-cone: nothing of the spray is filtered before burrow sees it. */
  victimProfile?: LabProfileName;
  /** Spray period, virtual ms. Default 1. */
  everyMs?: number;
  /** Stop spraying this long after both peers locked (virtual ms). Default 1000. */
  afterLockMs?: number;
}

export interface VirtualSprayResult extends VirtualScenarioBase {
  attacker: string;
  victimMapping: string | null;
  /** Datagrams the attacker sent, by kind. */
  sent: { random: number; forged: number; replayed: number; bounced: number };
  /** Attacker datagrams that reached the victim's sockets (the virtual network's trace). */
  reachedVictim: number;
  /** Datagrams (and bytes) the victim sent to the attacker: acks to replayed probes, triggered probes. */
  victimToAttacker: { datagrams: number; bytes: number };
  attackerBytes: number;
  /** Where each peer locked its direct path ("address:port" from direct-up). */
  providerLocked: string[];
  visitorLocked: string[];
  /** The real public mappings. */
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
  const everyMs = opts.everyMs ?? 1;
  const captured: Array<{ data: Buffer; to: UdpEndpoint }> = [];
  let onCapture: ((data: Buffer, to: UdpEndpoint) => void) | null = null;
  const { lab, directMs } = await startDirect({
    provider: opts.victimProfile ?? 'full-cone',
    visitor: 'port-restricted-cone',
    seed,
    upBytes: size,
    downBytes: size,
    recordTrace: true,
    extraSites: [{ name: 'x', nat: null, wan: { delayMs: 1 } }],
    udpTap: (_role, data, to) => {
      if (data[0] !== PROBE_KIND) return;
      if (captured.length >= CAPTURE_MAX) captured.shift();
      captured.push({ data, to });
      onCapture?.(data, to);
    },
  }).catch(async (e: unknown) => {
    throw e;
  });
  void VirtualSessionLab;
  return runSpray(lab, directMs, seed, size, everyMs, opts.afterLockMs ?? 1000, captured, (f) => (onCapture = f), real0);
}

async function runSpray(
  lab: VirtualSessionLab,
  directMs: number | null,
  seed: number,
  size: number,
  everyMs: number,
  afterLockMs: number,
  captured: Array<{ data: Buffer; to: UdpEndpoint }>,
  setOnCapture: (f: ((data: Buffer, to: UdpEndpoint) => void) | null) => void,
  real0: number,
): Promise<VirtualSprayResult> {
  void directMs;
  void seed;
  void size;
  void everyMs;
  void afterLockMs;
  void captured;
  void setOnCapture;
  void real0;
  throw new Error('replaced below');
}

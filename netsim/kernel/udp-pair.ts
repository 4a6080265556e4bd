/**
 * A burrow UDP service across the lab: rendezvous on the public server, a
 * provider (`--proto udp --to`) in one namespace and a visitor (`--proto udp
 * --listen`) in another, the real CLI each. Waits are bounded; `stop()` ends
 * both peers (the lab kills anything left on close).
 */
import { randomBytes } from 'node:crypto';
import type { Lab, LabNode, LabProcess } from './lab.js';
import { BURROW_ENTRY, spawnNode, waitEvent, type LogEvent } from './cli-process.js';
import { SEALED_OVERHEAD } from '../../src/crypto/packet-format.js';
import { NETWORK_PACKET_MTU } from '../../src/direct/udp-path.js';
import { MAX_UDP_PAYLOAD } from '../../src/session/datagram-channel.js';
import { FLOW_HEADER_BYTES } from '../../src/udp/flow-frame.js';

export const UDP_RV_PORT = 7000;

/**
 * The largest datagram a UDP client may send through the visitor on each
 * path: the session's datagram limit less the flow id. Direct: one sealed
 * packet of the 1400-byte network MTU (1400 − 25 − 4 = 1371 B: WireGuard at
 * MTU 1280 makes 1312-byte datagrams and fits; its default 1420 does not).
 * Relay: one record, capped by the largest UDP payload (65507 − 4).
 */
export const CLIENT_DATAGRAM_LIMIT = {
  direct: NETWORK_PACKET_MTU - SEALED_OVERHEAD - FLOW_HEADER_BYTES,
  relay: MAX_UDP_PAYLOAD - FLOW_HEADER_BYTES,
} as const;

export interface Rendezvous {
  process: LabProcess;
  /** ip:port peers use as --server. */
  address: string;
  token: string;
}

/** `burrow rendezvous` on the lab's public server. */
export async function startRendezvous(lab: Lab): Promise<Rendezvous> {
  const token = randomBytes(16).toString('hex');
  const address = `${lab.server.ip}:${UDP_RV_PORT}`;
  const p = spawnNode(lab, lab.server, [BURROW_ENTRY, 'rendezvous', '--listen', address, '--token', token, '--log-format', 'json']);
  await waitEvent(p, 'rendezvous', 'listening', 15_000);
  return { process: p, address, token };
}

export interface UdpPairOptions {
  rendezvous: Rendezvous;
  mode: 'xtcp' | 'stcp';
  /** Default udp; tcp starts an ordinary TCP service the same way (a bench's control channel, its latency reference). */
  proto?: 'udp' | 'tcp';
  providerHost: LabNode;
  /** The service the provider forwards to, ip:port. */
  to: string;
  visitorHost: LabNode;
  /** The visitor's local address, ip:port. */
  listen: string;
  /** xtcp: how long to wait for the direct path after the session is up (default 20 s). */
  directWaitMs?: number;
  /** Extra arguments for both peers (e.g. --udp-idle). */
  extra?: readonly string[];
}

export interface UdpPair {
  provider: LabProcess;
  visitor: LabProcess;
  /** The visitor's path once set up: "relay", "direct internet", … */
  path: string;
  stop(): Promise<void>;
}

const isDirect = (p: unknown): boolean => typeof p === 'string' && p.startsWith('direct');

export async function startUdpPair(lab: Lab, o: UdpPairOptions): Promise<UdpPair> {
  const proto = o.proto ?? 'udp';
  const name = `${proto}-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  const peer = [
    '--server', o.rendezvous.address, '--token', o.rendezvous.token, '--name', name, '--secret', secret,
    '--mode', o.mode, '--proto', proto, '--log-format', 'json', ...(o.extra ?? []),
  ];
  const provider = spawnNode(lab, o.providerHost, [BURROW_ENTRY, 'provide', ...peer, '--to', o.to]);
  let visitor: LabProcess | undefined;
  try {
    await waitEvent(provider, 'provider', 'registered', 20_000);
    visitor = spawnNode(lab, o.visitorHost, [BURROW_ENTRY, 'visit', ...peer, '--listen', o.listen]);
    const up = await waitEvent(visitor, 'visitor', 'session-up', 30_000);
    let path = typeof up.path === 'string' ? up.path : 'unknown';
    if (o.mode === 'xtcp' && !isDirect(path)) {
      const punched = (e: LogEvent): boolean => e.event === 'path' && isDirect(e.path);
      const d = await waitEvent(visitor, 'visitor', punched, o.directWaitMs ?? 20_000).catch(() => null);
      if (d) path = String(d.path);
    }
    const v = visitor;
    return { provider, visitor: v, path, stop: async () => void (await Promise.all([provider.stop(1000), v.stop(1000)])) };
  } catch (e) {
    await Promise.all([provider.stop(500), visitor?.stop(500)]);
    throw e;
  }
}

/**
 * The datagram sizes the README promises, from the code: a direct path of
 * NETWORK_PACKET_MTU carries 1371 bytes per client datagram after the seal
 * and the flow id, which fits WireGuard at MTU 1280 and not at its default
 * 1420. Checked on two real TunnelSessions (a virtual link, a fake clock)
 * with the flows' SessionFlows on top.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NETWORK_PACKET_MTU } from '../../src/direct/udp-path.js';
import { Logger } from '../../src/log/logger.js';
import { UdpCounters, decodeFlowDatagram } from '../../src/udp/index.js';
import { SessionFlows } from '../../peer/udp/session-flows.js';
import { udpSettings } from '../../peer/udp/udp-settings.js';
import { tunnelPair } from '../support/tunnel-pair.js';

/** WireGuard's bytes around each inner packet: a 16-byte data header and a 16-byte tag. */
const WIREGUARD_OVERHEAD = 32;

test('a direct internet path carries 1371-byte client datagrams: WireGuard MTU 1280 fits, 1420 is dropped as too big', async () => {
  const pair = tunnelPair({ delayMs: 5, mtu: NETWORK_PACKET_MTU });
  try {
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ format: 'json', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const flows = new SessionFlows<null>({ session: pair.initiator, settings: udpSettings(undefined, undefined), scheduler: pair.scheduler, logger, peerCounters: new UdpCounters(), onFlowClosed: () => {} });
    assert.equal(flows.datagramLimit, 1371);
    const got: number[] = [];
    pair.responder.on('datagram', (d: Buffer) => got.push(decodeFlowDatagram(d)?.payload.length ?? -1));
    const flow = flows.open('client', null);
    assert.ok(flow);
    assert.equal(flows.sendToPeer(flow, Buffer.alloc(1280 + WIREGUARD_OVERHEAD)), true);
    assert.equal(flows.sendToPeer(flow, Buffer.alloc(1371)), true);
    assert.equal(flows.sendToPeer(flow, Buffer.alloc(1372)), false);
    assert.equal(flows.sendToPeer(flow, Buffer.alloc(1420 + WIREGUARD_OVERHEAD)), false);
    await pair.scheduler.advance(50);
    assert.deepEqual(got, [1312, 1371], 'what fits arrives whole; nothing of the rest');
    assert.equal(flows.counters.drops.too_big, 2);
    const warn = lines.filter((l) => l['event'] === 'udp-datagram-too-big').map((l) => [l['size'], l['limit']]);
    assert.deepEqual(warn, [
      [1372, 1371],
      [1452, 1371],
    ]);
    flows.close();
  } finally {
    pair.close();
  }
});

/** startRendezvous: one call builds the TCP side and the STUN port, and one close() ends both (loopback). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { RendezvousListenError, startRendezvous } from '../../rendezvous/rendezvous.js';
import { bindStunSockets } from '../../rendezvous/stun-bind.js';
import { Logger } from '../../src/log/logger.js';
import { LoopbackPeer } from './loopback-peer.js';

const quiet = () => new Logger({ level: 'error' });

describe('startRendezvous', { timeout: 30_000 }, () => {
  it('by default TCP and STUN share one port number (STUN on +1 too); close() frees them all', async () => {
    const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: quiet(), stun: {} });
    const port = rv.tcp!.port;
    assert.deepEqual(
      rv.udp!.endpoints().map((e) => [e.slot, e.endpoint.port]),
      [
        ['primary', port],
        ['altPort', port + 1],
      ],
    );
    const peer = await LoopbackPeer.login(port, 'tok', 'provider');
    assert.equal(rv.stats.peers, 1);
    peer.close();
    await rv.close();
    await rv.close();
    // Everything it bound is free again.
    const again = await bindStunSockets({ host: '127.0.0.1', port });
    for (const s of Object.values(again.sockets)) s.close();
    const tcp = net.createServer().listen(port, '127.0.0.1');
    await once(tcp, 'listening');
    tcp.close();
  });

  it('stun "off": TCP only', async () => {
    const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: quiet(), stun: 'off' });
    assert.equal(rv.udp, null);
    assert.ok(rv.tcp!.port > 0);
    await rv.close();
  });

  it('a TCP port already taken is a RendezvousListenError, and the UDP sockets it bound are closed again', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as net.AddressInfo).port;
    const probe = await bindStunSockets({ host: '127.0.0.1', port: 0 });
    const udpPort = probe.layout.primary.port;
    for (const s of Object.values(probe.sockets)) s.close();
    try {
      await assert.rejects(
        startRendezvous({ host: '127.0.0.1', port, token: 'tok', logger: quiet(), stun: { port: udpPort } }),
        (err: unknown) => err instanceof RendezvousListenError && err.errno === 'EADDRINUSE' && /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/.test(err.message),
      );
      const again = await bindStunSockets({ host: '127.0.0.1', port: udpPort });
      for (const s of Object.values(again.sockets)) s.close();
    } finally {
      taken.close();
    }
  });
});

/** The rendezvous's refusals as metrics, in process: the reasons a bare TCP client and a wrong token cause, and the peers gauge. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { rendezvousRegistry } from '../../rendezvous/metrics.js';
import { startRendezvous } from '../../rendezvous/rendezvous.js';
import { Logger } from '../../src/log/logger.js';
import { LoopbackPeer } from '../rendezvous-unit/loopback-peer.js';
import { parseScrape, total } from './scrape.js';

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await cond(), what);
}

test('over the unauthenticated limit and a wrong token: each counted by its reason, and the peers gauge by role', async () => {
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), limits: { maxUnauthenticated: 1 } });
  const sockets: net.Socket[] = [];
  const peers: LoopbackPeer[] = [];
  try {
    const port = rv.tcp?.port ?? 0;
    const registry = rendezvousRegistry(rv);
    const read = async () => parseScrape(await registry.metrics());
    assert.equal(total(await read(), 'burrow_rendezvous_refusals_total'), 0);

    // One silent connection holds the only unauthenticated slot; the next is turned away.
    for (let i = 0; i < 2; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
      await once(s, 'connect');
    }
    await until(async () => total(await read(), 'burrow_rendezvous_refusals_total', { reason: 'too_many_unauthenticated' }) === 1, 'too_many_unauthenticated');
    sockets[0]?.destroy();
    await until(async () => rv.stats.unauthenticated === 0, 'the slot is free');

    await assert.rejects(LoopbackPeer.login(port, 'wrong', 'visitor'));
    await until(async () => total(await read(), 'burrow_rendezvous_refusals_total', { reason: 'bad_token' }) === 1, 'bad_token');

    const peer = await LoopbackPeer.login(port, 'tok', 'provider');
    peers.push(peer);
    const s = await read();
    assert.equal(total(s, 'burrow_rendezvous_peers', { role: 'provider' }), 1);
    assert.equal(total(s, 'burrow_rendezvous_peers', { role: 'visitor' }), 0);
    assert.equal(total(s, 'burrow_rendezvous_refusals_total'), 2, 'nothing else counted');
  } finally {
    for (const p of peers) p.close();
    for (const s of sockets) s.destroy();
    await rv.close();
  }
});

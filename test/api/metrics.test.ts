/**
 * What an embedding program scrapes: each API handle's metrics() is a
 * registry of its own with the counts of that role, read live, and
 * metricsSource lets several peers share one registry (as the CLI does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { peerRegistry, rendezvousRegistry, startProvider, startRendezvous, startVisitor } from '../../api/index.js';
import { exchange, sha256 } from '../support/client.js';
import { echoServer } from '../peer/harness.js';
import { parseScrape, total } from '../metrics/scrape.js';

test('API handles: metrics() counts the peers, sessions and bytes of a tunnel; metricsSource shares a registry', { timeout: 60_000 }, async () => {
  const target = await echoServer();
  const token = randomBytes(16).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token, udpPort: 'off' });
  const provider = await startProvider({ server: rendezvous.address, token, mode: 'stcp', services: [{ name: 'echo', secret, to: `127.0.0.1:${target.port}` }] });
  const visitor = await startVisitor({ server: rendezvous.address, token, mode: 'stcp', name: 'echo', secret });
  try {
    const scrape = async (r: { metrics(): Promise<string> }) => parseScrape(await r.metrics());
    assert.equal(rendezvous.metrics(), rendezvous.metrics(), 'one registry per handle');
    assert.equal(visitor.metrics(), visitor.metrics(), 'one registry per handle');

    const N = 50_000;
    const data = randomBytes(N);
    assert.equal((await exchange(visitor.address.port, data)).sha256, sha256(data));

    const rv = await scrape(rendezvous.metrics());
    assert.equal(total(rv, 'burrow_rendezvous_peers', { role: 'provider' }), 1);
    assert.equal(total(rv, 'burrow_rendezvous_peers', { role: 'visitor' }), 1);
    assert.equal(total(rv, 'burrow_rendezvous_services'), 1);
    assert.equal(total(await scrape(rendezvousRegistry(rendezvous.metricsSource)), 'burrow_rendezvous_services'), 1);

    const v = await scrape(visitor.metrics());
    assert.equal(total(v, 'burrow_visitor_sessions_opened_total'), 1);
    assert.equal(total(v, 'burrow_visitor_sessions', { path: 'relay' }), 1);
    assert.ok((total(v, 'burrow_visitor_bytes_total', { direction: 'sent' }) ?? 0) >= N);
    assert.equal(total(v, 'burrow_provider_sessions'), undefined, 'a visitor registry holds visitor metrics only');

    const p = await scrape(provider.metrics());
    assert.equal(total(p, 'burrow_provider_sessions_opened_total'), 1);
    assert.ok((total(p, 'burrow_provider_bytes_total', { direction: 'received' }) ?? 0) >= N);

    // Two sources of one role in one registry: the counts add up.
    const shared = await scrape(peerRegistry('provider', [provider.metricsSource, provider.metricsSource]));
    assert.equal(total(shared, 'burrow_provider_sessions_opened_total'), 2);
  } finally {
    await visitor.stop();
    await provider.stop();
    await rendezvous.stop();
    target.close();
  }
});

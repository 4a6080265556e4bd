/**
 * The mapped candidate end to end, on real Linux NATs and a real miniupnpd
 * (root, network namespaces; see mapped-xtcp-lab.ts): two sites behind
 * random-symmetric NATs — no punch can join them — and miniupnpd on one
 * router. The real CLI peers (provide on the mapping site, visit on the
 * other) go direct through the mapped port; bytes cross the tunnel; after
 * SIGTERM the mapping is gone from the router. With --no-portmap the same
 * pair stays on the relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routerLabSkipReason } from './router-lab.js';
import { MappedXtcpLab, echoThroughTunnel, startPair } from './mapped-xtcp-lab.js';

const skip = routerLabSkipReason();
test('random-symmetric on both sides, miniupnpd on one router: direct through the mapped port; the mapping is gone after the peers exit', { skip, timeout: 120_000 }, async () => {
  const lab = await MappedXtcpLab.create();
  try {
    const { provider, visitor } = await startPair(lab, []);
    const up = await visitor.waitFor('direct-up', 30_000);
    assert.equal(up['candidate'], 'mapped', JSON.stringify(up));
    const mapped = provider.events('portmap').find((l) => l['outcome'] === 'mapped' && String(l['offer']).startsWith('offered'));
    assert.ok(mapped, `provider portmap log: ${JSON.stringify(provider.events('portmap'))}`);
    const external = String(mapped['external']);
    assert.match(external, /^11\.0\.0\.1:\d+$/);
    assert.equal(String(up['remote']), external);
    const port = Number(external.split(':')[1]);
    assert.ok((await lab.forwards()).some((f) => f.externalPort === port && f.to === '192.168.77.2'), 'the router holds the forward');
    assert.equal(await echoThroughTunnel(lab, 'through the mapped port'), 'through the mapped port');
    assert.match(await lab.upnpcList(), new RegExp(`UDP\\s+${port}->192\\.168\\.77\\.2:`), 'upnpc lists the mapping while the session runs');

    // The CLI's shutdown path gives the mapping back.
    assert.equal(await provider.stop(), 0);
    await visitor.stop();
    assert.ok(provider.events('portmap-release').some((l) => l['outcome'] === 'deleted'), JSON.stringify(provider.events('portmap-release')));
    assert.deepEqual(await lab.forwards(), [], `forwards left on the router; its log: ${lab.routerLog.slice(-1500)}`);
    const listed = await lab.upnpcList();
    assert.match(listed, /ExternalIPAddress = 11\.0\.0\.1/, 'upnpc reached the router');
    assert.doesNotMatch(listed, /UDP\s+\d+->192\.168\.77\.2:/);
  } finally {
    await lab.close();
  }
});

test('the same pair with --no-portmap: nothing asked of the router, the session stays on the relay', { skip, timeout: 60_000 }, async () => {
  const lab = await MappedXtcpLab.create();
  try {
    const { provider, visitor } = await startPair(lab, ['--no-portmap']);
    const failed = await visitor.waitFor('punch-failed', 20_000);
    assert.match(String(failed['reason']), /symmetric/);
    assert.equal(visitor.events('direct-up').length, 0);
    assert.equal(provider.events('portmap').length, 0);
    assert.deepEqual(await lab.forwards(), []);
    assert.equal(await echoThroughTunnel(lab, 'over the relay'), 'over the relay');
  } finally {
    await lab.close();
  }
});


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
import { MappedXtcpLab, RENDEZVOUS_PORT, type LabProcess } from './mapped-xtcp-lab.js';
import { run } from '../../netsim/kernel/exec.js';

const skip = routerLabSkipReason();
const TOKEN = 'mapped-xtcp-token';
const SECRET = 'mapped-xtcp-secret';
const ECHO_PORT = 9100;
const VISIT_PORT = 9200;

/** A round trip through the visitor's listener (run inside site B's namespace). */
async function echoThroughTunnel(lab: MappedXtcpLab, text: string): Promise<string> {
  const src = `const s = require('net').connect(${VISIT_PORT}, '127.0.0.1', () => s.write(${JSON.stringify(text)})); let got = ''; s.on('data', (d) => { got += d; if (got.length >= ${text.length}) { process.stdout.write(got, () => process.exit(0)); } }); setTimeout(() => process.exit(2), 8000);`;
  const r = await run('ip', ['netns', 'exec', lab.lanB, process.execPath, '-e', src], { timeoutMs: 15_000 });
  return r.stdout;
}

async function startPair(lab: MappedXtcpLab, extra: string[]): Promise<{ rendezvous: LabProcess; provider: LabProcess; visitor: LabProcess }> {
  const rendezvous = lab.burrow('rendezvous', lab.core, ['rendezvous', '--listen', `0.0.0.0:${RENDEZVOUS_PORT}`, '--token', TOKEN]);
  await rendezvous.waitFor('listening', 10_000);
  const echo = lab.echoServer(lab.lanA, ECHO_PORT);
  await echo.waitFor('listening', 10_000);
  const common = ['--token', TOKEN, '--name', 'svc', '--secret', SECRET, ...extra];
  const provider = lab.burrow('provider', lab.lanA, ['provide', '--server', `11.0.0.2:${RENDEZVOUS_PORT}`, '--to', `127.0.0.1:${ECHO_PORT}`, ...common]);
  await provider.waitFor('registered', 10_000);
  const visitor = lab.burrow('visitor', lab.lanB, ['visit', '--server', `12.0.0.2:${RENDEZVOUS_PORT}`, '--listen', `127.0.0.1:${VISIT_PORT}`, ...common]);
  await visitor.waitFor('session-up', 15_000);
  return { rendezvous, provider, visitor };
}

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


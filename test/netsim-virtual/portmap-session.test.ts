/**
 * A whole xtcp session on the in-process lane with router port mapping, the
 * twin of test/portmap/mapped-xtcp-kernel.test.ts: both peers behind
 * random-symmetric NATs (no punch can meet), the provider's router runs the
 * port-mapping daemon. The provider offers its mapping, the visitor goes
 * direct through the mapped candidate, the bytes arrive exact, and the
 * forward is gone after the peers stop. Without the daemon the same pair
 * stays on the relay. The router restarted mid-transfer (twin of
 * mapped-xtcp-accept-kernel.test.ts): with its flows dropped the path dies
 * and comes back through a new mapping; with them kept it goes on. A router
 * behind a carrier NAT advertises nothing. The upnp-router profile is the
 * same router by profile (no option needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labPortmap, VirtualSessionLab, type VirtualLabOptions } from '../../netsim/virtual/lab.js';
import { firstAfter, transferWithHook } from '../../netsim/virtual/scenarios/common.js';
import { runVirtualSession } from '../../netsim/virtual/matrix/index.js';

const KIB = 1024;

function options(portmap: VirtualLabOptions['portmap'] | undefined): VirtualLabOptions {
  return {
    provider: 'symmetric-random',
    visitor: 'symmetric-random',
    seed: 11,
    mode: 'xtcp',
    upBytes: 256 * KIB,
    downBytes: 512 * KIB,
    ...(portmap ? { portmap } : {}),
  };
}

test('random-symmetric on both sides, the provider\'s router maps: direct through the mapped port, byte-exact, the forward deleted at close', { timeout: 60_000 }, async () => {
  const lab = await VirtualSessionLab.start(options({ routers: ['provider'] }));
  const router = lab.topo.site('a').nat?.portmap;
  assert.ok(router, 'the provider\'s NAT runs the daemon');
  assert.equal(lab.topo.site('b').nat?.portmap, null, 'the visitor\'s does not');
  try {
    assert.ok(await lab.waitSession(), lab.fatal ?? 'no session');
    assert.notEqual(await lab.waitPunchSettled(), null, JSON.stringify(lab.log('visitor', 'punch-failed')));
    const up = lab.log('visitor', 'direct-up')[0];
    assert.equal(up?.fields.candidate, 'mapped', JSON.stringify(up));
    const mapped = lab.log('provider', 'portmap').find((e) => e.fields.outcome === 'mapped' && String(e.fields.offer).startsWith('offered'));
    assert.ok(mapped, JSON.stringify(lab.log('provider', 'portmap')));
    const external = String(mapped.fields.external);
    assert.match(external, /^203\.0\.113\.10:\d+$/);
    assert.equal(String(up?.fields.remote), external);
    const port = Number(external.split(':')[1]);
    assert.ok(
      router.leases.some((l) => l.externalPort === port && l.internal.address === lab.providerHost.address),
      `the router holds the forward: ${JSON.stringify(router.leases)}`,
    );
    // The visitor's router has no daemon: its peer said so and offered nothing.
    assert.ok(lab.log('visitor', 'portmap').every((e) => e.fields.outcome !== 'mapped'), JSON.stringify(lab.log('visitor', 'portmap')));

    const result = await lab.requestToEnd(60_000);
    assert.ok(result.ok && result.upVerified && result.downVerified, JSON.stringify(result));
    assert.equal(lab.log('visitor', 'direct-lost').length, 0);
  } finally {
    const left = await lab.teardown();
    assert.deepEqual(left, { leftSockets: 0, leftListeners: 0 });
  }
  assert.deepEqual(router.leases, [], 'a lease outlived the session');
  assert.deepEqual(lab.topo.site('a').nat?.table.forwards(), []);
  assert.ok(router.stats.deleted >= 1, JSON.stringify(router.stats));
});

test('the same pair without the daemon: no mapping, no direct path, the relay carries the bytes', { timeout: 60_000 }, async () => {
  const lab = await VirtualSessionLab.start(options(undefined));
  try {
    assert.ok(await lab.waitSession(), lab.fatal ?? 'no session');
    assert.equal(await lab.waitPunchSettled(), null);
    assert.equal(lab.log('provider', 'portmap').length, 0, 'no peer asks a router unless port mapping is on');
    const result = await lab.requestToEnd(60_000);
    assert.ok(result.ok && result.upVerified && result.downVerified, JSON.stringify(result));
  } finally {
    await lab.teardown();
  }
});

test('with the daemon the run is still repeatable: the same seed gives the same UDP trace and log', { timeout: 60_000 }, async () => {
  const run = async (): Promise<[string, string, number]> => {
    const lab = await VirtualSessionLab.start({ ...options({ routers: ['provider'] }), upBytes: 16 * KIB, downBytes: 16 * KIB });
    try {
      assert.ok(await lab.waitSession());
      await lab.waitPunchSettled();
      const r = await lab.requestToEnd(30_000);
      assert.ok(r.ok);
    } finally {
      await lab.teardown();
    }
    return [lab.topo.network.trace.digest, lab.memory.digest, lab.now];
  };
  const a = await run();
  assert.deepEqual(await run(), a);
});

async function directThroughMapping(lab: VirtualSessionLab): Promise<string> {
  assert.ok(await lab.waitSession(), lab.fatal ?? 'no session');
  assert.notEqual(await lab.waitPunchSettled(), null, JSON.stringify(lab.log('visitor', 'punch-failed')));
  const up = lab.log('visitor', 'direct-up')[0];
  assert.equal(up?.fields.candidate, 'mapped', JSON.stringify(up));
  return String(up?.fields.remote);
}

test('the router restarted mid-transfer, table and flows lost: the path dies, the relay carries on, a new punch goes direct through a new mapping; byte-exact', { timeout: 60_000 }, async () => {
  const lab = await VirtualSessionLab.start({ ...options({ routers: ['provider'] }), upBytes: 2 * KIB * KIB, downBytes: 2 * KIB * KIB });
  const router = lab.topo.site('a').nat?.portmap;
  assert.ok(router);
  let restartAt = Infinity;
  try {
    const first = await directThroughMapping(lab);
    const t = await transferWithHook(lab, {
      atFraction: 0.25,
      limitMs: 120_000,
      hook: () => {
        restartAt = lab.now;
        router.restart({ dropFlows: true });
      },
    });
    assert.ok(t.result.ok && t.result.upVerified && t.result.downVerified, JSON.stringify(t.result));
    assert.ok(restartAt < Infinity, 'the restart happened');
    const lost = firstAfter(lab.events, 'visitor', 'direct-lost', restartAt);
    assert.equal(lost?.fields.fallback, 'relay', JSON.stringify(lab.log('visitor')));
    // Back on the relay the session punches again (a new socket, a new mapper asking the restarted router); the transfer may end first.
    const again = lost ? await lab.waitEvent('visitor', 'direct-up', lost.t, 30_000) : undefined;
    assert.equal(again?.fields.candidate, 'mapped', JSON.stringify(again));
    assert.ok(
      lab.events.some((e) => e.t >= restartAt && e.fields.component === 'provider' && e.event === 'portmap' && e.fields.outcome === 'mapped' && e.fields.external === again?.fields.remote),
      'the provider logged the new mapping',
    );
    const port = Number(String(again?.fields.remote).split(':')[1]);
    assert.ok(router.leases.some((l) => l.externalPort === port), `the restarted router holds the new forward (the first was ${first})`);
    assert.ok(t.hookAt !== null && t.endedAt > t.hookAt);
  } finally {
    await lab.teardown();
  }
  assert.deepEqual(router.leases, []);
});

test('the router restarted mid-transfer, flows kept: the flow goes on through the stale forward, no fallback; the table is empty', { timeout: 60_000 }, async () => {
  const lab = await VirtualSessionLab.start({ ...options({ routers: ['provider'] }), upBytes: 8 * KIB * KIB, downBytes: 8 * KIB * KIB });
  const router = lab.topo.site('a').nat?.portmap;
  assert.ok(router);
  let restartAt = Infinity;
  try {
    await directThroughMapping(lab);
    const t = await transferWithHook(lab, {
      atFraction: 0.25,
      limitMs: 120_000,
      hook: () => {
        restartAt = lab.now;
        router.restart();
        assert.deepEqual(router.leases, []);
      },
    });
    assert.ok(t.result.ok && t.result.upVerified && t.result.downVerified, JSON.stringify(t.result));
    assert.ok(restartAt < Infinity && t.endedAt - restartAt > 200, `the transfer ran on ${t.endedAt - restartAt} ms after the restart`);
    assert.equal(firstAfter(lab.events, 'visitor', 'direct-lost', restartAt), undefined, 'no fallback');
    assert.deepEqual(lab.topo.site('a').nat?.table.forwards(), [], 'the restarted router has no forward');
  } finally {
    await lab.teardown();
  }
});

test('the mapping router sits behind a carrier NAT (WAN 100.64.1.2): nothing advertised, the provider log says why, the pair relays byte-exact', { timeout: 60_000 }, async () => {
  const lab = await VirtualSessionLab.start({ ...options({ routers: ['provider'] }), provider: 'double-nat', visitor: 'symmetric-random' });
  try {
    assert.ok(await lab.waitSession(), lab.fatal ?? 'no session');
    const verdict = await lab.waitEvent('provider', 'portmap', lab.t0, 20_000);
    assert.equal(verdict?.fields.outcome, 'not-advertised', JSON.stringify(verdict));
    assert.match(String(verdict?.fields.reason), /100\.64\.1\.2/);
    assert.match(String(verdict?.fields.reason), /another NAT/i);
    await lab.waitPunchSettled();
    assert.ok(!lab.log('provider', 'portmap').some((e) => e.fields.outcome === 'mapped'), 'no mapping offered');
    const result = await lab.requestToEnd(60_000);
    assert.ok(result.ok && result.upVerified && result.downVerified, JSON.stringify(result));
    assert.deepEqual(lab.topo.site('a').nat?.table.forwards(), []);
  } finally {
    await lab.teardown();
  }
});

test('a matrix cell can ask for it: symmetric-random on both sides goes direct with the provider\'s router mapping, relays without', { timeout: 60_000 }, async () => {
  const cell = { provider: 'symmetric-random', visitor: 'symmetric-random', seed: 3, sizeBytes: 64 * KIB, mode: 'xtcp' } as const;
  const mapped = await runVirtualSession({ ...cell, portmap: { routers: ['provider'] } });
  assert.equal(mapped.outcome, 'direct', mapped.error ?? mapped.punchFailure);
  assert.ok(mapped.upVerified && mapped.downVerified);
  const plain = await runVirtualSession(cell);
  assert.notEqual(plain.outcome, 'direct');
  assert.ok(plain.upVerified && plain.downVerified);
});

test('the upnp-router profile is symmetric-random with the daemon, its peer asking: the very run of the portmap option, event for event', { timeout: 60_000 }, async () => {
  const cell = { visitor: 'symmetric-random', seed: 3, sizeBytes: 64 * KIB, mode: 'xtcp' } as const;
  const profile = await runVirtualSession({ ...cell, provider: 'upnp-router' });
  const option = await runVirtualSession({ ...cell, provider: 'symmetric-random', portmap: { routers: ['provider'] } });
  assert.equal(profile.outcome, 'direct', profile.error ?? profile.punchFailure);
  assert.equal(profile.via, 'mapped');
  assert.match(profile.portmap ?? '', /^provider: mapped by (pcp|natpmp) 203\.0\.113\.10:\d+/);
  assert.ok(profile.upVerified && profile.downVerified);
  assert.equal(profile.udpDigest, option.udpDigest);
  assert.equal(profile.tcpDigest, option.tcpDigest);
  assert.equal(profile.logDigest, option.logDigest);
});

test('labPortmap: a mapping profile adds its role (both roles in one site); other profiles leave the option as given', () => {
  const base = { seed: 1, upBytes: 1, downBytes: 1 } as const;
  assert.equal(labPortmap({ ...base, provider: 'symmetric-random', visitor: 'full-cone' }), undefined);
  assert.deepEqual(labPortmap({ ...base, provider: 'full-cone', visitor: 'full-cone', portmap: { routers: ['visitor'] } }), { routers: ['visitor'] });
  assert.deepEqual(labPortmap({ ...base, provider: 'full-cone', visitor: 'upnp-router' }), { routers: ['visitor'] });
  assert.deepEqual(labPortmap({ ...base, provider: 'upnp-router', visitor: 'upnp-router' }), { routers: ['provider', 'visitor'] });
  assert.deepEqual(labPortmap({ ...base, provider: 'upnp-router', visitor: 'full-cone', sameSite: true }), { routers: ['provider', 'visitor'] });
  assert.deepEqual(labPortmap({ ...base, provider: 'full-cone', visitor: 'upnp-router', sameSite: true }), undefined);
  // The option's router settings apply to the profile's router too; a role is listed once.
  assert.deepEqual(labPortmap({ ...base, provider: 'upnp-router', visitor: 'full-cone', portmap: { routers: ['provider'], router: { pcp: false } } }), {
    routers: ['provider'],
    router: { pcp: false },
  });
});

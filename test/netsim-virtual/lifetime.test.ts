import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology, natProfile, waitFor, type NatSpec } from '../../netsim/virtual/index.js';

async function setup(nat: NatSpec) {
  const t = buildTopology({ seed: 11, sites: [{ name: 'a', nat }] });
  const srv = t.server.bind({ port: 5000 });
  let lastFrom = { address: '', port: 0 };
  let got = 0;
  srv.onMessage((_d, from) => {
    got++;
    lastFrom = { address: from.address, port: from.port };
  });
  const host = t.site('a').host.bind({ port: 40000 });
  let heard = 0;
  host.onMessage(() => heard++);
  const nat_ = t.site('a').nat!;
  const send = async () => {
    const before = got;
    host.send(Buffer.from('out'), srv.localEndpoint());
    await waitFor(t.scheduler, () => got > before, 1000);
    return lastFrom.port;
  };
  /** The server sends to the host's last mapped endpoint; resolves whether it arrived. */
  const inbound = async () => {
    const before = heard;
    srv.send(Buffer.from('in'), lastFrom);
    await t.scheduler.advance(100);
    return heard > before;
  };
  return { t, nat: nat_, send, inbound, at: (ms: number) => t.scheduler.advance(ms - t.scheduler.now()) };
}

describe('mapping lifetime', () => {
  it('an unanswered mapping expires after the unreplied timeout (30 s); inbound is dropped after that', async () => {
    const s = await setup('port-restricted-cone');
    await s.send(); // arrives at ~t=20.5
    const t0 = s.t.scheduler.now();
    await s.at(t0 + 29_000);
    assert.ok(s.nat.table.mappingOnPort(40000, s.t.scheduler.now()));
    await s.at(t0 + 31_000);
    assert.equal(s.nat.table.mappingOnPort(40000, s.t.scheduler.now()), undefined);
    assert.equal(await s.inbound(), false);
    assert.equal(s.nat.drops['no-mapping'], 1);
  });

  it('a replied mapping lives for the stream timeout (120 s) after the last packet', async () => {
    const s = await setup('port-restricted-cone');
    await s.send();
    assert.equal(await s.inbound(), true); // the reply makes the flow two-way
    const last = s.t.scheduler.now() - 100 + 10.5; // the reply crossed the NAT 10.5 ms after it was sent
    await s.at(last + 119_000);
    assert.ok(s.nat.table.mappingOnPort(40000, s.t.scheduler.now()));
    await s.at(last + 120_500);
    assert.equal(s.nat.table.mappingOnPort(40000, s.t.scheduler.now()), undefined);
    assert.equal(await s.inbound(), false);
  });

  it('outbound traffic refreshes the mapping', async () => {
    const s = await setup('port-restricted-cone');
    for (let i = 0; i < 5; i++) {
      assert.equal(await s.send(), 40000);
      await s.t.scheduler.advance(20_000);
    }
    // 100 s in, still mapped (each send restarted the 30 s unreplied timer).
    assert.ok(s.nat.table.mappingOnPort(40000, s.t.scheduler.now()));
    assert.equal(await s.inbound(), true);
  });

  it('after expiry a new flow gets a new mapping: same port when preserved, another one for sequential and random NATs', async () => {
    const keep = await setup('port-restricted-cone');
    assert.equal(await keep.send(), 40000);
    await keep.t.scheduler.advance(31_000);
    assert.equal(await keep.send(), 40000);
    assert.equal(keep.nat.table.stats.mappingsCreated, 2);

    for (const nat of ['symmetric-sequential', 'symmetric-random'] as const) {
      const s = await setup(nat);
      const first = await s.send();
      await s.t.scheduler.advance(31_000);
      const second = await s.send();
      assert.notEqual(second, first, nat);
      assert.equal(s.nat.table.stats.mappingsCreated, 2);
      if (nat === 'symmetric-sequential') assert.equal(second, first + 1);
    }
  });

  it('the 5 s profile expires two-way mappings after 5 s of silence', async () => {
    const s = await setup(natProfile('port-restricted-cone', { shortLifetime: true }));
    await s.send();
    assert.equal(await s.inbound(), true);
    await s.t.scheduler.advance(4_000);
    assert.equal(await s.inbound(), true);
    await s.t.scheduler.advance(5_100);
    assert.equal(await s.inbound(), false);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSite } from '../../netsim/virtual/index.js';
import { PacketKind } from '../../src/wire/packet-kind.js';
import { ProbeType } from '../../src/punch/index.js';
import { candidatesOf, runPunchPair, setupPair } from './harness.js';

const site = (profile: Parameters<typeof labSite>[0], name: string) => labSite(profile, name);

test('port-restricted <-> port-restricted (plain Linux masquerade): both lock each other\'s public mapping, 20 seeds', async () => {
  let locked = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const pair = await setupPair({ seed, sites: [site('port-restricted-cone', 'a'), site('port-restricted-cone', 'b')] });
    // Start skew within a few ms, as the rendezvous's RTT-based sync gives.
    await runPunchPair(pair, { startSkewMs: (seed % 7) - 3 });
    const { a, b } = pair;
    if (a.punch!.state === 'locked' && b.punch!.state === 'locked') {
      locked++;
      assert.deepEqual(a.punch!.locked!.remote, b.srflx, `seed ${seed}: a locked onto b's mapping`);
      assert.deepEqual(b.punch!.locked!.remote, a.srflx, `seed ${seed}: b locked onto a's mapping`);
      assert.equal(a.punch!.locked!.kind, 'srflx');
      assert.ok(a.punch!.locked!.afterMs < 1000, `seed ${seed}: locked after ${a.punch!.locked!.afterMs} ms`);
    } else {
      console.log(`seed ${seed}:\n${a.punch!.timeline.format()}\n---\n${b.punch!.timeline.format()}`);
    }
  }
  assert.equal(locked, 20);
});

test('priming matters: without TTL-2 priming and with 300 ms start skew the conntrack clash defeats plain probes', async () => {
  let withPriming = 0;
  let without = 0;
  for (let seed = 1; seed <= 5; seed++) {
    const p1 = await setupPair({ seed, sites: [site('port-restricted-cone', 'a'), site('port-restricted-cone', 'b')] });
    await runPunchPair(p1, { startSkewMs: 300, a: { primeTtl: 0 }, b: { primeTtl: 0 }, maxTimeMs: 3000 });
    if (p1.a.punch!.state === 'locked' && p1.b.punch!.state === 'locked') without++;
    const p2 = await setupPair({ seed, sites: [site('port-restricted-cone', 'a'), site('port-restricted-cone', 'b')] });
    await runPunchPair(p2, { startSkewMs: 0, maxTimeMs: 3000 });
    if (p2.a.punch!.state === 'locked' && p2.b.punch!.state === 'locked') withPriming++;
  }
  assert.equal(withPriming, 5);
  assert.ok(without < 5, `plain probing with skew succeeded ${without}/5 (the clash model should defeat it)`);
});

test('full cone / restricted cone <-> symmetric random: direct through the peer-reflexive candidate', async () => {
  for (const easy of ['full-cone', 'restricted-cone'] as const) {
    for (let seed = 1; seed <= 5; seed++) {
      const pair = await setupPair({ seed, sites: [site(easy, 'a'), site('symmetric-random', 'b')] });
      await runPunchPair(pair);
      assert.equal(pair.a.punch!.state, 'locked', `${easy} seed ${seed}\n${pair.a.punch!.timeline.format()}`);
      assert.equal(pair.b.punch!.state, 'locked', `${easy} seed ${seed}\n${pair.b.punch!.timeline.format()}`);
      assert.equal(pair.a.punch!.locked!.kind, 'prflx');
    }
  }
});

test('port-restricted <-> symmetric random: birthday probing locks in at least 19 of 20 runs, bounded in sockets and packets', async () => {
  let locked = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const pair = await setupPair({ seed, sites: [site('port-restricted-cone', 'a'), site('symmetric-random', 'b')] });
    await runPunchPair(pair, { birthdayHard: 'b', maxTimeMs: 8000 });
    const { a, b } = pair;
    assert.ok(a.punch!.stats.birthdayProbesSent <= 2048);
    assert.equal(b.sockets.length, 257);
    if (a.punch!.state === 'locked' && b.punch!.state === 'locked') {
      locked++;
      assert.ok(b.punch!.locked!.socket >= 1, 'the hard side locks on one of its extra sockets');
      assert.equal(a.punch!.locked!.remote.address, b.srflx.address);
    }
  }
  assert.ok(locked >= 19, `birthday locked ${locked}/20`);
});

test('sequential symmetric <-> port-restricted: direct by probing predicted ports', async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const pair = await setupPair({ seed, sites: [site('port-restricted-cone', 'a'), site('symmetric-sequential', 'b')] });
    // b's next mappings follow its last one (the srflx) with step 1.
    for (let k = 1; k <= 8; k++) pair.b.extra.push({ kind: 'predicted', address: pair.b.srflx.address, port: pair.b.srflx.port + k });
    await runPunchPair(pair);
    assert.equal(pair.a.punch!.state, 'locked', `seed ${seed}\n${pair.a.punch!.timeline.format()}`);
    assert.equal(pair.b.punch!.state, 'locked', `seed ${seed}\n${pair.b.punch!.timeline.format()}`);
  }
});

test('two peers in one LAN behind a NAT without hairpinning lock the LAN path', async () => {
  const s = { ...site('port-restricted-cone', 'lan'), hosts: 2 };
  const pair = await setupPair({ seed: 3, sites: [s], sameSite: true });
  await runPunchPair(pair);
  assert.equal(pair.a.punch!.locked?.kind, 'host');
  assert.equal(pair.b.punch!.locked?.kind, 'host');
  assert.deepEqual(pair.a.punch!.locked!.remote, pair.b.host);
});

test('two peers behind one hairpinning NAT still prefer the LAN path', async () => {
  const s = { ...site('hairpin', 'lan'), hosts: 2 };
  const pair = await setupPair({ seed: 4, sites: [s], sameSite: true });
  await runPunchPair(pair);
  assert.equal(pair.a.punch!.locked?.kind, 'host');
  assert.equal(pair.b.punch!.locked?.kind, 'host');
});

test('a third host spraying forged and replayed probes at a peer\'s public mapping never becomes the locked endpoint', async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const pair = await setupPair({ seed, sites: [site('full-cone', 'a'), site('port-restricted-cone', 'b')] });
    const attackerHost = pair.topo.network.addHost('attacker', '192.0.2.99');
    pair.topo.network.attachHost(attackerHost, pair.topo.core, { delayMs: 1 });
    const attacker = attackerHost.bind({ port: 6666 });
    const { a, b } = pair;
    // Captured genuine packets from b (the attacker sniffed them) plus garbage with our kind byte.
    const captured = [b.codec.make(ProbeType.Probe, a.srflx).data, b.codec.make(ProbeType.Ack, a.srflx, Buffer.alloc(8)).data];
    let sent = 0;
    const spray = () => {
      for (let i = 0; i < 20; i++) {
        const garbage = pair.random(65);
        garbage[0] = PacketKind.Probe;
        attacker.send(garbage, a.srflx);
        attacker.send(captured[i % 2]!, a.srflx);
        sent += 2;
      }
      if (sent < 4000) pair.topo.scheduler.at(pair.topo.scheduler.now() + 5, spray);
    };
    pair.topo.scheduler.at(pair.topo.scheduler.now() + 20, spray);
    await runPunchPair(pair);
    assert.equal(a.punch!.state, 'locked');
    assert.deepEqual(a.punch!.locked!.remote, b.srflx, `seed ${seed}: a locked onto ${JSON.stringify(a.punch!.locked!.remote)}`);
    assert.ok((a.codec.drops['mac'] ?? 0) + (a.codec.drops['tag'] ?? 0) > 0, 'forgeries were dropped and counted');
    assert.notEqual(candidatesOf(b).length, 0);
  }
});

test('a symmetric pair is not punched at all, and UDP blocked goes to relay (planPunch)', async () => {
  const { planPunch } = await import('../../src/punch/index.js');
  const sym = { udp: true, mapping: 'dependent', allocation: 'random' } as const;
  const cone = { udp: true, mapping: 'independent', allocation: 'preserving' } as const;
  assert.equal(planPunch(sym, sym, { birthday: true }).direct, false);
  assert.equal(planPunch({ ...cone, udp: false }, cone, { birthday: true }).direct, false);
  const p = planPunch(cone, sym, { birthday: true });
  assert.ok(p.direct && p.birthday?.hard === 'remote');
  const q = planPunch(sym, cone, { birthday: true });
  assert.ok(q.direct && q.birthday?.hard === 'local');
  const r = planPunch(sym, cone, { birthday: false });
  assert.ok(r.direct && r.birthday === null);
});

/**
 * DirectLink and the home router's port mapping (two real DirectLinks on the
 * in-process network, fake clock, a scripted mapper; where it maps, a port
 * forward on the in-process NAT stands in for the router, see router-forward.ts):
 * the mapped candidate is offered first and carries a pair no punch could
 * join; "another NAT above" is not offered; a mapping that does not forward
 * fails like any dead candidate; mappings are given back; a router that
 * never answers costs the offer at most DIRECT_TIMERS.portmapGraceMs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIRECT_TIMERS } from '../../src/direct/index.js';
import type { PortMapEvent } from '../../src/portmap/index.js';
import type { SessionNatInfo } from '../../src/punch/index.js';
import type { Role } from '../../src/role.js';
import { releasePortMappings, type PortMapperFactory } from '../../peer/direct-link.js';
import { startLab, type Lab, type LabOptions } from './direct-link-harness.js';
import { addPortForward, type PortForward } from './router-forward.js';

const RANDOM: SessionNatInfo = { udp: true, mapping: 'dependent', allocation: 'random' };
const CONE: SessionNatInfo = { udp: true, mapping: 'independent', allocation: 'preserving' };
const randomPair: LabOptions['nats'] = {
  initiator: { nat: 'symmetric-random', info: RANDOM },
  responder: { nat: 'symmetric-random', info: RANDOM },
};

interface Script {
  /** When the router answers after the mapper starts (null: never). */
  answerAfterMs: number | null;
  /** ... when the mapper is asked for one protocol only (an earlier attempt's). */
  answerPreferredAfterMs?: number;
  outcome: 'mapped' | 'behind-nat';
  /** The router forwards what it mapped (default true). */
  forwards?: boolean;
}

/** A mapper whose router answers as scripted; 'mapped' installs a forward on the peer's NAT. */
function scriptedMapper(lab: () => Lab, role: Role, script: Script) {
  const rec = { started: [] as number[], released: [] as number[], forwards: [] as PortForward[], preferred: [] as (string | undefined)[] };
  const factory: PortMapperFactory = async (port: number, onEvent: (e: PortMapEvent) => void, prefer?: string) => {
    const l = lab();
    rec.started.push(port);
    rec.preferred.push(prefer);
    const answerAfterMs = prefer !== undefined && script.answerPreferredAfterMs !== undefined ? script.answerPreferredAfterMs : script.answerAfterMs;
    const nat = l.nat[role];
    const externalPort = 40_000 + rec.started.length;
    let forward: PortForward | null = null;
    const s = l.topo.scheduler;
    const timer =
      answerAfterMs === null
        ? null
        : s.at(s.now() + answerAfterMs, () => {
            if (script.outcome === 'behind-nat') {
              onEvent({ type: 'failed', kind: 'behind-nat', reason: 'external address 100.64.0.1 is shared (RFC 6598): another NAT sits above the router; the mapping is not advertised' });
              return;
            }
            if (nat === null) throw new Error('test: this peer has no NAT to map on');
            forward = addPortForward(nat, externalPort, { address: l.host[role].address, port }, { forwards: script.forwards ?? true });
            rec.forwards.push(forward);
            onEvent({ type: 'mapped', protocol: 'natpmp', externalAddress: nat.publicAddress, externalPort, lifetimeSeconds: 7200 });
          });
    return {
      close: async () => {
        timer?.cancel();
        (forward as PortForward | null)?.remove();
        rec.released.push(port);
      },
    };
  };
  return { factory, ...rec };
}

function offerOf(lab: Lab, role: Role, attempt = 0) {
  const o = lab.broker.offers.find((x) => x.role === role && x.m.attempt === attempt);
  assert.ok(o, `${role} offered for attempt ${attempt}`);
  return o;
}

test('without a mapping, random-symmetric on both sides is not punched (the baseline the mapping changes)', async () => {
  const lab = startLab(31, { nats: randomPair });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.events('initiator', 'punch-failed').length === 1, { maxTime: 10_000 });
    assert.match(String(lab.events('initiator', 'punch-failed')[0]?.fields['reason']), /symmetric/);
    assert.equal(lab.events('initiator', 'direct-up').length, 0);
  } finally {
    lab.close();
  }
});

test('random-symmetric on both sides, a forwarding router mapping on one: offered first, probed, direct; released on close', async () => {
  let lab!: Lab;
  const mapper = scriptedMapper(() => lab, 'responder', { answerAfterMs: 10, outcome: 'mapped' });
  lab = startLab(32, { nats: randomPair, portmap: { responder: mapper.factory } });
  try {
    lab.initiator.link.start();
    const s = lab.topo.scheduler;
    await s.runUntil(() => lab.events('initiator', 'direct-up').length === 1 && lab.events('responder', 'direct-up').length === 1, { maxTime: 10_000 });
    const offer = offerOf(lab, 'responder');
    const publicAddress = lab.nat.responder!.publicAddress;
    assert.deepEqual(offer.m.candidates[0], { kind: 'mapped', address: publicAddress, port: 40_001 });
    const logged = lab.events('responder', 'portmap').find((l) => l.fields['outcome'] === 'mapped');
    assert.ok(logged, 'the mapping is logged');
    assert.equal(logged.fields['protocol'], 'natpmp');
    assert.equal(logged.fields['external'], `${publicAddress}:40001`);
    assert.equal(logged.fields['lifetimeSeconds'], 7200);
    assert.equal(lab.events('initiator', 'direct-up')[0]?.fields['candidate'], 'mapped');
    assert.match(String(lab.events('responder', 'punch-start')[0]?.fields['plan']), /this side waits at its mapping/);
    assert.match(String(lab.events('initiator', 'punch-start')[0]?.fields['plan']), /the peer waits at its mapping/);
    assert.ok(mapper.forwards[0]!.admitted > 0);
    // The locked path runs on the mapped socket: its mapping lives as long as the path.
    await s.advance(30_000);
    assert.deepEqual(mapper.released, []);
    lab.close();
    await releasePortMappings(1000);
    assert.deepEqual(mapper.released, mapper.started);
  } finally {
    lab.close();
  }
});

test('random-symmetric with a mapping against a port-restricted cone: the mapped side waits, and the mapping carries the path before birthday probing starts', async () => {
  let lab!: Lab;
  const mapper = scriptedMapper(() => lab, 'responder', { answerAfterMs: 10, outcome: 'mapped' });
  lab = startLab(33, {
    nats: { initiator: { nat: 'port-restricted-cone', info: CONE }, responder: { nat: 'symmetric-random', info: RANDOM } },
    portmap: { responder: mapper.factory },
  });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.events('initiator', 'direct-up').length === 1, { maxTime: 10_000 });
    const up = lab.events('initiator', 'direct-up')[0]!.fields;
    // Had the mapped side probed first, its packets to the cone's port would
    // have taken the conntrack tuple and the router would drop the cone's probes to the mapping.
    assert.equal(up['candidate'], 'mapped');
    assert.ok(Number(up['punchMs']) < DIRECT_TIMERS.birthdayHardStartMs, `locked after ${String(up['punchMs'])} ms`);
    assert.equal(mapper.forwards[0]!.dropped, 0);
  } finally {
    lab.close();
  }
});

test('"another NAT above the router": nothing offered, logged with the reason, the pair relays as without a mapping', async () => {
  let lab!: Lab;
  const mapper = scriptedMapper(() => lab, 'responder', { answerAfterMs: 10, outcome: 'behind-nat' });
  lab = startLab(34, { nats: randomPair, portmap: { responder: mapper.factory } });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.events('responder', 'punch-failed').length === 1, { maxTime: 10_000 });
    assert.ok(offerOf(lab, 'responder').m.candidates.every((c) => c.kind !== 'mapped'));
    const logged = lab.events('responder', 'portmap').find((l) => l.fields['outcome'] === 'not-advertised');
    assert.ok(logged);
    assert.equal(logged.fields['level'], 'warn');
    assert.equal(logged.fields['kind'], 'behind-nat');
    assert.match(String(logged.fields['reason']), /another NAT sits above the router/);
    assert.match(String(lab.events('responder', 'punch-failed')[0]?.fields['reason']), /symmetric/);
    // The failed attempt's socket is dropped, and its mapper with it.
    assert.deepEqual(mapper.released, mapper.started);
  } finally {
    lab.close();
  }
});

test('a router that maps but never forwards: the mapped candidate never answers, the attempt fails as usual, is retried soon, and each attempt gives its mapping back', async () => {
  let lab!: Lab;
  const mapper = scriptedMapper(() => lab, 'responder', { answerAfterMs: 10, outcome: 'mapped', forwards: false });
  lab = startLab(35, { nats: randomPair, portmap: { responder: mapper.factory } });
  try {
    lab.initiator.link.start();
    const s = lab.topo.scheduler;
    await s.runUntil(() => lab.broker.offers.filter((o) => o.role === 'responder').length >= 2, { maxTime: 20_000 });
    assert.equal(lab.events('initiator', 'direct-up').length, 0);
    assert.equal(lab.events('initiator', 'punch-failed')[0]?.fields['reason'], 'no authenticated answer from any candidate in time');
    assert.ok(mapper.forwards[0]!.dropped > 0, 'the peer did probe the mapping');
    // Not "hopeless": the next attempt comes after the first back-off step, not 10 minutes.
    const second = offerOf(lab, 'initiator', 1);
    assert.ok(second.at < DIRECT_TIMERS.punchTimeoutMs + 5_000, `second attempt at ${second.at} ms`);
    assert.equal(mapper.released[0], mapper.started[0]);
    assert.deepEqual(offerOf(lab, 'responder', 1).m.candidates[0], { kind: 'mapped', address: lab.nat.responder!.publicAddress, port: 40_002 });
  } finally {
    lab.close();
  }
});

/** When the responder offered, counted from the initiator's offer (the punch-request takes 5 ms to arrive). */
async function responderOfferDelay(seed: number, factory: PortMapperFactory | 'none'): Promise<number> {
  const lab = startLab(seed, { portmap: { responder: factory } });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.broker.offers.length >= 2, { maxTime: 10_000 });
    return offerOf(lab, 'responder').at - offerOf(lab, 'initiator').at - 5;
  } finally {
    lab.close();
  }
}

test('the offer waits for the router at most portmapGraceMs (no answer), and only as long as the router takes when it answers', async () => {
  assert.equal(DIRECT_TIMERS.portmapGraceMs <= 300, true);
  let lab!: Lab;
  const silent: PortMapperFactory = async () => ({ close: async () => {} });
  const unavailable: PortMapperFactory = async () => {
    throw new Error('no default IPv4 gateway to ask for a port mapping');
  };
  assert.equal(await responderOfferDelay(41, 'none'), 0);
  assert.equal(await responderOfferDelay(42, unavailable), 0);
  assert.equal(await responderOfferDelay(43, silent), DIRECT_TIMERS.portmapGraceMs);
  // A router that refuses after 20 ms holds the offer back 20 ms.
  const quick = scriptedMapper(() => lab, 'responder', { answerAfterMs: 20, outcome: 'behind-nat' });
  lab = startLab(44, { portmap: { responder: quick.factory } });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.broker.offers.length >= 2, { maxTime: 10_000 });
    assert.equal(offerOf(lab, 'responder').at - offerOf(lab, 'initiator').at - 5, 20);
    assert.ok(lab.events('responder', 'portmap').some((l) => l.fields['outcome'] === 'not-advertised'));
  } finally {
    lab.close();
  }
});

test('a mapping granted after the offer: that attempt is not "hopeless", the next one asks the protocol that worked and offers the mapping', async () => {
  let lab!: Lab;
  const mapper = scriptedMapper(() => lab, 'initiator', { answerAfterMs: 1000, answerPreferredAfterMs: 10, outcome: 'mapped' });
  lab = startLab(36, { nats: randomPair, portmap: { initiator: mapper.factory } });
  try {
    lab.initiator.link.start();
    await lab.topo.scheduler.runUntil(() => lab.events('initiator', 'direct-up').length === 1, { maxTime: 10_000 });
    const offers = lab.broker.offers.filter((o) => o.role === 'initiator');
    const k = offers.findIndex((o) => o.m.candidates[0]?.kind === 'mapped');
    assert.ok(k >= 1, 'the first offer went out without the slow mapping');
    assert.ok(offers.slice(0, k).every((o) => o.m.candidates.every((c) => c.kind !== 'mapped')));
    assert.ok(lab.events('initiator', 'portmap').some((l) => l.fields['outcome'] === 'pending'));
    // A router heard out after its attempt ended: the mapping is released, the protocol remembered.
    assert.match(String(lab.events('initiator', 'portmap').find((l) => l.fields['outcome'] === 'mapped')?.fields['offer']), /released; the next attempt asks this protocol only/);
    assert.equal(mapper.preferred[k], 'natpmp');
    assert.equal(mapper.preferred[0], undefined);
    assert.equal(lab.events('responder', 'direct-up')[0]?.fields['candidate'], 'mapped');
    // Every mapper but the path's has given its mapping back.
    assert.equal(mapper.released.length, mapper.started.length - 1);
    assert.ok(lab.topo.scheduler.now() < 10_000);
  } finally {
    lab.close();
  }
});

/**
 * The session socket's address discovery (peer/session-stun.ts) on the
 * in-process network: what it learns behind each kind of NAT, and that an
 * extra STUN server that never answers does not hold a session up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStun, type RouteCheck } from '../../peer/session-stun.js';
import { virtualStunService } from '../support/virtual-stun.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, labSite, type LabProfileName } from '../../netsim/virtual/index.js';

async function discover(profile: LabProfileName, extra: { address: string; port: number }[] = [], hasRoute?: RouteCheck) {
  const topo = buildTopology({ seed: 5, recordTrace: false, sites: [labSite(profile, 'a')] });
  const { udp, ip1 } = virtualStunService(topo);
  const rng = new SeededRandom(9);
  const stun = new SessionStun(
    { primary: { address: ip1, port: 7000 }, alternatePort: { address: ip1, port: 7001 }, extra },
    topo.scheduler,
    (n) => rng.bytes(n),
    undefined,
    hasRoute,
  );
  const socket = topo.site('a').host.bind({});
  let handler: ((d: Buffer, f: { address: string; port: number }) => boolean) | null = null;
  socket.onMessage((d, f) => handler?.(d, f));
  const t0 = topo.scheduler.now();
  let result: Awaited<ReturnType<SessionStun['discover']>> | null = null;
  void stun.discover(socket, (h) => (handler = h)).then((r) => (result = r));
  await topo.scheduler.runUntil(() => result !== null, { maxTime: t0 + 10_000 });
  udp.close();
  return { result: result!, tookMs: topo.scheduler.now() - t0, publicAddress: topo.site('a').publicAddress };
}

test('behind a port-restricted cone: the public address, one mapping per socket, ports preserved, 3 hops to the rendezvous', async () => {
  const { result, publicAddress } = await discover('port-restricted-cone');
  assert.equal(result.srflx?.address, publicAddress);
  assert.deepEqual(result.nat, { udp: true, mapping: 'independent', allocation: 'preserving' });
  assert.equal(result.hops, 3, 'host -> NAT -> core -> server');
});

test('behind a double NAT the hop count is one more (priming must pass the carrier NAT too)', async () => {
  const { result } = await discover('double-nat');
  assert.equal(result.hops, 4);
});

test('behind a random symmetric NAT: the mapping depends on the destination; behind a sequential one, the step', async () => {
  assert.deepEqual((await discover('symmetric-random')).result.nat, { udp: true, mapping: 'dependent', allocation: 'random' });
  const seq = await discover('symmetric-sequential' as LabProfileName);
  assert.equal(seq.result.nat.mapping, 'dependent');
  assert.equal(seq.result.nat.allocation, 'sequential');
  assert.equal(seq.result.nat.step, 1);
});

test('UDP blocked: no server-reflexive address, udp false', async () => {
  const { result } = await discover('udp-blocked');
  assert.equal(result.srflx, null);
  assert.equal(result.nat.udp, false);
});

test('an extra STUN server that never answers does not hold the session up', async () => {
  const base = await discover('port-restricted-cone');
  const withDead = await discover('port-restricted-cone', [{ address: '198.51.100.99', port: 3478 }]);
  assert.deepEqual(withDead.result.srflx, base.result.srflx);
  assert.equal(withDead.tookMs, base.tookMs, 'the dead server adds nothing');
  assert.ok(withDead.tookMs < 500, `discovery took ${withDead.tookMs} ms (virtual); the request timeout is 1500 ms`);
});

test('no STUN answer and no route to the rendezvous: the reason says "no IPv4 route", not "UDP blocked"', async () => {
  const asked: string[] = [];
  const { result } = await discover('udp-blocked', [], async (_socket, to) => {
    asked.push(`${to.address}:${to.port}`);
    return false;
  });
  assert.equal(result.srflx, null);
  assert.equal(result.nat.udp, false);
  assert.equal(asked.length, 1, 'asked once, about the primary server');
  assert.match(asked[0]!, /:7000$/);
  assert.match(result.detail, /^no IPv4 route to /);
  assert.match(result.reason ?? '', /^no IPv4 route to the rendezvous \(.*:7000\): this host has no IPv4 address or route/);
  assert.doesNotMatch(result.reason ?? '', /blocked/);
});

test('no STUN answer with a route: "UDP blocked" as before (no reason of its own); a failing route check counts as a route', async () => {
  for (const check of [async () => true, () => Promise.reject(new Error('cannot tell'))] as RouteCheck[]) {
    const { result } = await discover('udp-blocked', [], check);
    assert.equal(result.reason, undefined);
    assert.equal(result.detail, 'no STUN answer over UDP');
  }
  // The default check consults the OS only for OS sockets: the in-process lane's routes are not this machine's.
  const { result } = await discover('udp-blocked');
  assert.equal(result.reason, undefined);
});

test('the route is checked before anything is sent: a host with a route discovers as usual', async () => {
  let asked = 0;
  const { result } = await discover('port-restricted-cone', [], async () => {
    asked++;
    return true;
  });
  assert.equal(asked, 1);
  assert.ok(result.srflx);
});

test('no route: the answer comes at once, not after the STUN timeout', async () => {
  const { result, tookMs } = await discover('port-restricted-cone', [], async () => false);
  assert.equal(result.srflx, null);
  assert.match(result.reason ?? '', /^no IPv4 route to the rendezvous/);
  assert.ok(tookMs < 100, `took ${tookMs} ms (virtual); the STUN timeout is 1500 ms`);
});

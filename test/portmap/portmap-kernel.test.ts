/**
 * The port mapper against a real router: Debian's miniupnpd in a network
 * namespace (see router-lab.ts), one protocol at a time. For each: the
 * mapping appears in the router's nftables forwards, a datagram from the
 * outside host to WAN:externalPort reaches the LAN host's socket, a router
 * restart that loses the table is noticed and the port mapped again, and
 * closing the mapper deletes the mapping. With a reserved WAN address the
 * router cannot map, and nothing is advertised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LAN_HOST, RouterLab, routerLabSkipReason, type MapperChild } from './router-lab.js';

const skip = routerLabSkipReason();
const WAN = '11.0.0.1';

async function proveProtocol(protocol: 'natpmp' | 'pcp' | 'upnp'): Promise<void> {
  const lab = await RouterLab.create({ wanAddress: WAN, natpmp: protocol !== 'upnp', upnp: protocol === 'upnp' });
  let child: MapperChild | null = null;
  try {
    child = lab.startMapper(protocol);
    const ready = await child.waitFor((l) => l.type === 'ready', 10_000);
    const internalPort = ready.port as number;
    const mapped = await child.waitFor((l) => l.type === 'mapped' || l.type === 'failed', 15_000);
    assert.equal(mapped.type, 'mapped', `${protocol}: ${JSON.stringify(mapped)}\n${lab.log.slice(-1500)}`);
    assert.equal(mapped.protocol, protocol);
    assert.equal(mapped.externalAddress, WAN);
    const externalPort = mapped.externalPort as number;

    // The router holds the forward, to our socket.
    assert.deepEqual(
      (await lab.forwards()).filter((f) => f.externalPort === externalPort),
      [{ externalPort, to: LAN_HOST, port: internalPort }],
    );

    // A datagram from the internet reaches the LAN host's socket, and its reply gets back.
    const replies = await lab.sendFromOutside(externalPort);
    assert.ok(replies.some((r) => r.data.startsWith('ECHO probe')), `no echo through the mapping: ${JSON.stringify(replies)}`);
    const got = child.events('datagram');
    assert.ok(got.length > 0 && got.every((d) => d.from === lab.outsideAddress), JSON.stringify(got));

    // Router restart, table lost: noticed, and mapped again. The epoch must have grown enough to go back visibly.
    if (lab.daemonUptimeMs < 6000) await new Promise((r) => setTimeout(r, 6000 - lab.daemonUptimeMs));
    const mark = child.lines.length;
    await lab.restartDaemon();
    assert.deepEqual(await lab.forwards(), [], 'the restart left no forward behind');
    const lost = await child.waitFor((l) => l.type === 'lost', 20_000, mark);
    assert.match(String(lost.reason), /restarted|no longer had the mapping/);
    const again = await child.waitFor((l) => l.type === 'mapped', 20_000, mark);
    assert.equal(again.externalAddress, WAN);
    const port2 = again.externalPort as number;
    assert.deepEqual(
      (await lab.forwards()).filter((f) => f.externalPort === port2),
      [{ externalPort: port2, to: LAN_HOST, port: internalPort }],
    );
    const before = child.events('datagram').length;
    const replies2 = await lab.sendFromOutside(port2);
    assert.ok(replies2.some((r) => r.data.startsWith('ECHO probe')), 'no echo after the re-mapping');
    assert.ok(child.events('datagram').length > before);

    // Closing the mapper deletes the mapping on the router.
    await child.close();
    assert.ok(child.events('closed').length === 1, JSON.stringify(child.lines));
    assert.deepEqual(await lab.forwards(), [], 'the mapping outlived the mapper');
    assert.deepEqual(await lab.sendFromOutside(port2, 2), [], 'traffic still gets in after the release');
  } finally {
    await lab.close();
  }
}

test('NAT-PMP alone: maps, forwards, survives a router restart, releases on close', { skip, timeout: 90_000 }, async () => {
  await proveProtocol('natpmp');
});

test('PCP alone: maps, forwards, survives a router restart, releases on close', { skip, timeout: 90_000 }, async () => {
  await proveProtocol('pcp');
});

test('UPnP IGD alone: maps, forwards, survives a router restart, releases on close', { skip, timeout: 90_000 }, async () => {
  await proveProtocol('upnp');
});

test('all three offered at once: the parallel probe finds them and PCP is used; close releases it', { skip, timeout: 60_000 }, async () => {
  const lab = await RouterLab.create({ wanAddress: WAN, natpmp: true, upnp: true });
  try {
    const child = lab.startMapper('pcp,natpmp,upnp');
    const mapped = await child.waitFor((l) => l.type === 'mapped' || l.type === 'failed', 15_000);
    assert.equal(mapped.type, 'mapped', JSON.stringify(mapped));
    assert.equal(mapped.protocol, 'pcp');
    assert.equal((await lab.forwards()).length, 1);
    await child.close();
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

test('a router on a reserved WAN address (100.64.0.1, another NAT above): nothing is advertised', { skip, timeout: 90_000 }, async () => {
  const lab = await RouterLab.create({ wanAddress: '100.64.0.1', natpmp: true, upnp: true });
  try {
    for (const protocol of ['pcp', 'natpmp', 'upnp'] as const) {
      const child = lab.startMapper(protocol);
      try {
        const verdict = await child.waitFor((l) => l.type === 'mapped' || l.type === 'failed', 15_000);
        assert.equal(verdict.type, 'failed', `${protocol}: ${JSON.stringify(verdict)}`);
        if (protocol === 'pcp') {
          // miniupnpd refuses with NO_RESOURCES but names its WAN address: the mapper says why it cannot work.
          assert.equal(verdict.kind, 'behind-nat');
          assert.match(String(verdict.reason), /100\.64\.0\.1 .*another NAT sits above the router: the mapping is not advertised/);
        } else {
          assert.equal(verdict.kind, 'refused', `${protocol}: ${JSON.stringify(verdict)}`);
        }
      } finally {
        await child.close();
      }
      assert.equal(child.events('mapped').length, 0, `${protocol} advertised a mapping`);
    }
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

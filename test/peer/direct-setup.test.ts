/**
 * The rendezvous's name and the direct path (peer/direct-setup.ts): UDP
 * needs an address, so the name is resolved. A failed lookup used to fall
 * back to 0.0.0.0, STUN went nowhere, and the offer said "UDP is blocked";
 * now the offer says the lookup failed, with the name and the resolver's
 * code, and the next attempt tries the lookup again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientMessage } from '../../src/control/index.js';
import { Logger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/net/runtime.js';
import type { TunnelSession } from '../../src/session/index.js';
import { createDirectLink } from '../../peer/direct-setup.js';
import { RendezvousDiscovery } from '../../peer/direct/rendezvous-discovery.js';
import { virtualStunService } from '../support/virtual-stun.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, labSite } from '../../netsim/virtual/index.js';

function enotfound(host: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
}

function lab(seed: number) {
  const topo = buildTopology({ seed, recordTrace: false, sites: [labSite('port-restricted-cone', 'a')] });
  const { udp, ip1 } = virtualStunService(topo);
  const rng = new SeededRandom(seed);
  return { topo, udp, ip1, random: (n: number) => rng.bytes(n), rng };
}

test('a rendezvous name that does not resolve is reported as a DNS failure with the name and code, not as "UDP blocked"', async () => {
  const { topo, udp, rng } = lab(11);
  const offers: Extract<ClientMessage, { type: 'offer' }>[] = [];
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const logger = new Logger({
    level: 'debug',
    format: 'json',
    sink: {
      write(line: string) {
        const r = JSON.parse(line) as Record<string, unknown>;
        logs.push({ event: String(r['event']), fields: r });
      },
    },
  });
  const runtime = {
    transport: null as never,
    udp: () => topo.site('a').host.bind({}),
    scheduler: topo.scheduler,
    random: { bytes: (n: number) => rng.bytes(n), next: () => rng.next() },
  } satisfies Runtime;
  // Passed as a variable so the object's extra field is allowed whatever createDirectLink declares.
  const args = {
    connId: 'c1',
    role: 'initiator' as const,
    sessionKey: Buffer.alloc(32, 7),
    session: { receive: () => true, setPath() {} } as unknown as TunnelSession,
    runtime,
    server: { host: 'rv.burrow-test.invalid', port: 7000 },
    config: {},
    sendControl: (m: ClientMessage) => {
      if (m.type === 'offer') offers.push(m);
      return true;
    },
    logger,
    resolve: (host: string) => Promise.reject(enotfound(host)),
  };
  const link = await createDirectLink(args);
  try {
    link.start();
    await topo.scheduler.runUntil(() => offers.length > 0, { maxTime: topo.scheduler.now() + 10_000 });
    assert.equal(offers.length, 1);
    const offer = offers[0]!;
    assert.deepEqual(offer.candidates, []);
    assert.match(offer.reason ?? '', /DNS lookup of the rendezvous name "rv\.burrow-test\.invalid" failed \(ENOTFOUND/);
    assert.doesNotMatch(offer.reason ?? '', /UDP is blocked/);
    const warned = logs.filter((l) => l.event === 'direct-unavailable');
    assert.equal(warned.length, 1);
    assert.match(String(warned[0]!.fields['reason']), /ENOTFOUND/);
  } finally {
    link.close();
    udp.close();
  }
});

test('the lookup is tried again on the next attempt, and once it works the name is not looked up again', async () => {
  const { topo, udp, ip1, random } = lab(12);
  let calls = 0;
  const resolve = async (host: string): Promise<string[]> => {
    calls++;
    if (calls === 1) throw Object.assign(new Error('temporary failure'), { code: 'EAI_AGAIN' });
    assert.equal(host, 'rv.example.test');
    return ['2001:db8::9', ip1];
  };
  const d = new RendezvousDiscovery({ host: 'rv.example.test', port: 7000 }, topo.scheduler, random, resolve);
  const run = async () => {
    const socket = topo.site('a').host.bind({});
    let handler: ((data: Buffer, from: { address: string; port: number }) => boolean) | null = null;
    socket.onMessage((data, from) => handler?.(data, from));
    let result: Awaited<ReturnType<RendezvousDiscovery['discover']>> | null = null;
    void d.discover(socket, (h) => (handler = h)).then((r) => (result = r));
    await topo.scheduler.runUntil(() => result !== null, { maxTime: topo.scheduler.now() + 10_000 });
    socket.close();
    return result!;
  };
  try {
    const first = await run();
    assert.equal(first.nat.udp, false);
    assert.match(first.reason ?? '', /"rv\.example\.test" failed \(EAI_AGAIN: temporary failure\)/);
    const second = await run();
    assert.equal(second.nat.udp, true);
    assert.equal(second.srflx?.address, topo.site('a').publicAddress);
    assert.equal(second.reason, undefined);
    await run();
    assert.equal(calls, 2);
  } finally {
    udp.close();
  }
});

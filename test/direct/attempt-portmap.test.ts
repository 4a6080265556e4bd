/**
 * AttemptPortMap on its own: a mapper that cannot start is "unavailable", not
 * an error; one closed before it started is closed when it arrives; the wait
 * for releases on exit is bounded even when a router never confirms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../src/log/logger.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { AttemptPortMap, releasePortMappings, type PortMapperFactory } from '../../peer/direct/attempt-portmap.js';
import type { PortMapEvent } from '../../src/portmap/index.js';

function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = new Logger({ level: 'debug', format: 'json', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
  return { logger, lines };
}

test('a mapper that throws while starting: logged as unavailable, the wait ends at once, nothing offered', async () => {
  const { logger, lines } = memoryLogger();
  const s = new VirtualScheduler();
  const factory: PortMapperFactory = () => {
    throw new Error('no default IPv4 gateway');
  };
  const pm = new AttemptPortMap(factory, 5000, 0, logger);
  await pm.settledBy(s, s.now() + 300);
  assert.equal(s.now(), 0);
  assert.equal(pm.offer(), null);
  assert.equal(pm.mayMapLater, false);
  assert.ok(lines.some((l) => l['event'] === 'portmap' && l['outcome'] === 'unavailable' && /no default IPv4 gateway/.test(String(l['reason']))));
});

test('closed before the mapper started: it is closed as soon as it arrives', async () => {
  const { logger } = memoryLogger();
  let closed = 0;
  let arrive!: () => void;
  const factory: PortMapperFactory = () =>
    new Promise((resolve) => {
      arrive = () => resolve({ close: async () => void closed++ });
    });
  const pm = new AttemptPortMap(factory, 5000, 0, logger);
  pm.close();
  assert.equal(closed, 0);
  arrive();
  await releasePortMappings(1000);
  assert.equal(closed, 1);
});

test('releasePortMappings waits for releases, but no longer than its bound', async () => {
  const { logger } = memoryLogger();
  const never: PortMapperFactory = async () => ({ close: () => new Promise<void>(() => {}) });
  const pm = new AttemptPortMap(never, 5000, 0, logger);
  pm.close();
  const t0 = Date.now();
  await releasePortMappings(100);
  const took = Date.now() - t0;
  assert.ok(took >= 90 && took < 2000, `took ${took} ms`);
});

test('the peer log explains a refusal plainly: "the router would not map", with "another NAT above it?" only when the answers look like it', async () => {
  const cases: Array<{ event: Extract<PortMapEvent, { type: 'failed' }>; outcome: string; reason: RegExp; notReason?: RegExp }> = [
    {
      // miniupnpd 2.3.1 with PCP off on a 100.64.0.1 WAN: NAT-PMP says network failure, UPnP 501.
      event: {
        type: 'failed',
        kind: 'refused',
        reason:
          'every port-mapping service failed (NAT-PMP: external address refused: network failure (the gateway has no external address yet); UPnP IGD: UPnP AddPortMapping failed: 501 ActionFailed)',
      },
      outcome: 'none',
      reason: /^the router would not map: NAT-PMP: external address refused: network failure .*; UPnP IGD: .*501 ActionFailed \(another NAT above it\?\)$/,
    },
    {
      event: { type: 'failed', kind: 'refused', reason: 'every port-mapping service failed (PCP: refused: NOT_AUTHORIZED)' },
      outcome: 'none',
      reason: /^the router would not map: PCP: refused: NOT_AUTHORIZED$/,
      notReason: /another NAT/,
    },
    {
      event: { type: 'failed', kind: 'behind-nat', reason: 'PCP refused: NO_RESOURCES: external address 100.64.0.1 is shared carrier-grade NAT space (100.64/10): another NAT sits above the router: the mapping is not advertised', externalAddress: '100.64.0.1' },
      outcome: 'not-advertised',
      reason: /100\.64\.0\.1 .*another NAT sits above the router/,
    },
    {
      event: { type: 'failed', kind: 'no-service', reason: 'no port-mapping service answered (PCP, NAT-PMP, UPnP IGD)' },
      outcome: 'none',
      reason: /^the router offers no port mapping: no port-mapping service answered/,
    },
  ];
  for (const c of cases) {
    const { logger, lines } = memoryLogger();
    const s = new VirtualScheduler();
    const factory: PortMapperFactory = async (_port, onEvent) => {
      onEvent(c.event);
      return { close: async () => {} };
    };
    const pm = new AttemptPortMap(factory, 5000, 1, logger);
    await pm.settledBy(s, s.now() + 300);
    const logged = lines.find((l) => l['event'] === 'portmap' && l['outcome'] !== 'pending');
    assert.ok(logged, JSON.stringify(lines));
    assert.equal(logged['outcome'], c.outcome);
    assert.equal(logged['kind'], c.event.kind);
    assert.match(String(logged['reason']), c.reason);
    if (c.notReason) assert.doesNotMatch(String(logged['reason']), c.notReason);
    assert.equal(pm.offer(), null);
    pm.close();
  }
  await releasePortMappings(1000);
});

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

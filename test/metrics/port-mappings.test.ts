/** What burrow_*_port_mappings reads: the mappings a session holds now, by protocol (SessionPortMaps.held). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionPortMaps } from '../../peer/direct/session-portmaps.js';
import type { PortMapperFactory } from '../../peer/direct-link.js';
import { Logger } from '../../src/log/logger.js';
import type { PortMapEvent, PortMapProtocol } from '../../src/portmap/index.js';

/** A router that answers each mapper with `answers` in turn (null: no mapping). */
function router(answers: (PortMapProtocol | null)[]): PortMapperFactory {
  let n = 0;
  return async (internalPort: number, onEvent: (e: PortMapEvent) => void) => {
    const answer = answers[n++] ?? null;
    queueMicrotask(() =>
      onEvent(
        answer === null
          ? { type: 'failed', kind: 'no-service', reason: 'no router answered' }
          : { type: 'mapped', protocol: answer, externalAddress: '198.51.100.7', externalPort: 40_000 + internalPort, lifetimeSeconds: 7200 },
      ),
    );
    return { close: async () => {} };
  };
}

const settle = () => new Promise((r) => setImmediate(r));

test('granted mappings count while held, by protocol; a released or refused one does not', async () => {
  const maps = new SessionPortMaps(router(['natpmp', null, 'upnp']), new Logger({ level: 'error' }));
  assert.deepEqual(maps.held(), []);
  const first = maps.start(0, 1000);
  await settle();
  assert.deepEqual(maps.held(), ['natpmp']);
  maps.pathOn(first);
  assert.deepEqual(maps.held(), ['natpmp'], 'the path\'s mapping is the same one, counted once');
  maps.start(1, 1001);
  await settle();
  assert.deepEqual(maps.held(), ['natpmp'], 'a refused request holds nothing');
  const third = maps.start(2, 1002);
  await settle();
  assert.deepEqual(maps.held().sort(), ['natpmp', 'upnp']);
  maps.pathOn(third);
  assert.deepEqual(maps.held(), ['upnp'], 'moving the path released the old mapping');
  maps.close();
  assert.deepEqual(maps.held(), []);
});

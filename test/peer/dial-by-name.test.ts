/**
 * A peer given the rendezvous by name resolves it to every address and
 * races them (Happy Eyeballs, src/net/dial-stream.ts): here the name's
 * IPv6 address refuses (nothing listens on ::1) and the IPv4 one logs in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { ControlClient } from '../../peer/control-client.js';
import { startRendezvous } from '../../rendezvous/rendezvous.js';
import { Logger } from '../../src/log/logger.js';

test('the control connection reaches a rendezvous by a name whose first (IPv6) address is dead', { timeout: 10_000 }, async () => {
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), stun: 'off' });
  const looked: string[] = [];
  const client = new ControlClient({
    server: { host: 'rv.burrow-test.invalid', port: rv.tcp!.port },
    token: 'tok',
    role: 'provider',
    name: 'svc',
    logger: new Logger({ level: 'error' }),
    lookup: async (host) => {
      looked.push(host);
      return ['127.0.0.1', '::1'];
    },
  });
  try {
    const up = once(client, 'up');
    client.start();
    await up;
    assert.deepEqual(looked, ['rv.burrow-test.invalid']);
    assert.equal(rv.stats.peers, 1);
  } finally {
    client.stop();
    await rv.close();
  }
});

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
import { Backoff } from '../../peer/backoff.js';
import { createServer } from 'node:net';

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

test('a name whose first address is a frozen server (it takes the TCP connection and says nothing) is left for the next address', { timeout: 15_000 }, async () => {
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), stun: 'off' });
  const port = rv.tcp?.port ?? 0;
  // Like a SIGSTOPped node: the kernel completes the handshake, nobody answers.
  const frozen = createServer((s) => {
    frozenConnections++;
    s.on('error', () => {});
  });
  let frozenConnections = 0;
  frozen.listen(port, '127.0.0.2');
  await once(frozen, 'listening');
  const client = new ControlClient({
    server: { host: 'nodes.burrow-test.invalid', port },
    token: 'tok',
    role: 'provider',
    name: 'svc',
    logger: new Logger({ level: 'error' }),
    connectTimeoutMs: 300,
    backoff: new Backoff(50, 100),
    lookup: async () => ['127.0.0.2', '127.0.0.1'],
  });
  try {
    const up = once(client, 'up');
    client.start();
    // Bounded, so that a failure still reaches the clean-up below.
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('never logged in: the frozen address won every race')), 5000).unref());
    await Promise.race([up, late]);
    assert.equal(rv.stats.peers, 1);
    assert.equal(frozenConnections, 1, 'the frozen address was tried once, then last');
  } finally {
    client.stop();
    frozen.close();
    await rv.close();
  }
});

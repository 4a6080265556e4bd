/** Processes die and come back; the tunnel comes back on its own. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, startLab } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

/** These tests are about the relay path (issue 3): stcp keeps every byte on it. */
const STCP = ['--mode', 'stcp'];

const group = new ProcessGroup();
const targets: Target[] = [];

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

async function roundTrip(port: number): Promise<void> {
  const payload = randomBytes(200_000);
  const r = await exchange(port, payload, 30_000);
  assert.equal(r.error, undefined);
  assert.equal(r.sha256, sha256(payload));
}

test('rendezvous killed with SIGKILL and restarted: the provider re-registers within seconds, new connections work', async () => {
  const lab = await startLab(group, { peerArgs: STCP });
  const target = await echoTarget();
  targets.push(target);
  const provider = await lab.provide('nas', 's3cret', target.port);
  const { port } = await lab.visit('nas', 's3cret');
  await roundTrip(port);

  const registeredBefore = provider.count('registered');
  const eventsBefore = provider.events.length;
  lab.rendezvous.kill('SIGKILL');
  await lab.rendezvous.waitExit();
  await provider.waitEvent('rendezvous-lost');
  await new Promise((r) => setTimeout(r, 1000));
  const restartedAt = performance.now();
  await lab.startRendezvous();
  await provider.waitFor((e) => e.event === 'registered', 'a new registration', 15_000, eventsBefore);
  assert.ok(provider.count('registered') > registeredBefore);
  const seconds = (performance.now() - restartedAt) / 1000;
  assert.ok(seconds < 15, `re-registered after ${seconds.toFixed(1)} s`);
  await roundTrip(port);
});

test('provider restarted: visitors reconnect on their own', async () => {
  const lab = await startLab(group, { peerArgs: STCP });
  const target = await echoTarget();
  targets.push(target);
  const provider = await lab.provide('files', 'pw', target.port);
  const { proc: visitor, port } = await lab.visit('files', 'pw');
  await roundTrip(port);
  const sessionsBefore = visitor.count('session-up');

  provider.kill('SIGKILL');
  await provider.waitExit();
  await lab.provide('files', 'pw', target.port);
  await roundTrip(port);
  assert.ok(visitor.count('session-up') > sessionsBefore, 'the visitor set up a new session');
});

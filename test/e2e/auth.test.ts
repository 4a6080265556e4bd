/** Secrets and tokens: refusals are clear, nothing leaks to the target, others are unaffected. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, freePort, startLab, type Lab } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

/** These tests are about the relay path (issue 3): stcp keeps every byte on it. */
const STCP = ['--mode', 'stcp'];

const group = new ProcessGroup();
const targets: Target[] = [];
let lab: Lab;

before(async () => {
  lab = await startLab(group, { peerArgs: STCP });
});

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

test('a wrong secret: clear error on the visitor, zero bytes to the target, other visitors unaffected', async () => {
  const target = await echoTarget();
  targets.push(target);
  const provider = await lab.provide('nas', 'right-secret', target.port);
  const good = await lab.visit('nas', 'right-secret');
  await good.proc.waitEvent('session-up');

  const bad = await lab.visit('nas', 'wrong-secret');
  // A client connects to the bad visitor straight away and tries to talk.
  const attempt = exchange(bad.port, Buffer.from('GET / HTTP/1.0\r\n\r\n'), 20_000);
  const mismatch = await bad.proc.waitEvent('secret-mismatch');
  assert.match(String(mismatch.error), /secret does not match/);
  assert.equal(await bad.proc.waitExit(), 1, 'a visitor with a wrong secret exits with status 1');
  const r = await attempt;
  assert.equal(r.bytes, 0, 'the client must get nothing back');
  const refusal = await provider.waitEvent('visitor-refused');
  assert.match(String(refusal.reason), /secret/);

  assert.equal(target.connections, 0, 'nothing may reach the target');
  assert.equal(target.bytesIn, 0);

  const payload = randomBytes(100_000);
  const ok = await exchange(good.port, payload);
  assert.equal(ok.sha256, sha256(payload), 'the visitor with the right secret still works');
  assert.equal(target.connections, 1);
});

test('a wrong rendezvous token: clear error, no registration', async () => {
  const port = await freePort();
  const before = lab.rendezvous.count('registered');
  const p = group.spawn('bad-token provider', [
    'provide', '--server', `127.0.0.1:${lab.rvPort}`, '--token', 'not-the-token', '--name', 'sneaky', '--secret', 's', '--to', `127.0.0.1:${port}`,
  ]);
  assert.equal(await p.waitExit(), 1);
  assert.ok(p.stderrText.some((l) => /refused the login/.test(l) && /token/.test(l)), p.stderrText.join('\n'));
  await lab.rendezvous.waitEvent('login-refused');
  assert.equal(lab.rendezvous.count('registered'), before);
  assert.equal(p.count('registered'), 0);

  const v = group.spawn('bad-token visitor', [
    'visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', 'nope', '--name', 'nas', '--secret', 's', '--listen', `127.0.0.1:${port}`,
  ]);
  assert.equal(await v.waitExit(), 1);
});

test('a service name already taken gets a clear error', async () => {
  const target = await echoTarget();
  targets.push(target);
  const first = await lab.provide('taken', 'secret-1', target.port);
  const second = group.spawn('second provider', [
    'provide', '--server', `127.0.0.1:${lab.rvPort}`, '--token', lab.token, '--name', 'taken', '--secret', 'secret-2', '--to', `127.0.0.1:${target.port}`,
  ]);
  const err = await second.waitEvent('rendezvous-error');
  assert.equal(err.code, 'NAME_TAKEN');
  assert.match(String(err.error), /"taken" is already registered/);
  // Once the holder is gone, the waiting provider gets the name on its own.
  first.kill('SIGKILL');
  await second.waitEvent('registered', 20_000);
  second.kill();
});

test('a visitor for a service nobody provides says so and keeps trying', async () => {
  const v = await lab.visit('nobody-home', 's');
  const failed = await v.proc.waitEvent('connect-failed');
  assert.equal(failed.code, 'NO_SUCH_SERVICE');
  assert.ok(v.proc.running);
  v.proc.kill();
});

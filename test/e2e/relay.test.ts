/**
 * The relay path end to end, with the real CLI processes: visitor ->
 * rendezvous -> provider -> target.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { ProcessGroup, startLab, type Lab } from '../support/cli.js';
import { bannerTarget, duplexTarget, echoTarget, resetTarget, type Target } from '../support/targets.js';
import { exchange, readFirst, sha256 } from '../support/client.js';

/** These tests are about the relay path (issue 3): stcp keeps every byte on it. */
const STCP = ['--mode', 'stcp'];

const MB = 1024 * 1024;
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

test('64 MB both ways at once through visitor -> rendezvous -> provider -> target, SHA-256 equal', async () => {
  const download = randomBytes(64 * MB);
  const upload = randomBytes(64 * MB);
  const uploads: string[] = [];
  const target = await duplexTarget(download, uploads);
  targets.push(target);
  await lab.provide('bulk', 'bulk-secret', target.port);
  const { proc: visitor, port } = await lab.visit('bulk', 'bulk-secret');
  const got = await exchange(port, upload);
  assert.equal(got.error, undefined);
  assert.equal(got.bytes, download.length);
  assert.equal(got.sha256, sha256(download));
  assert.deepEqual(uploads, [sha256(upload)]);
  const up = await visitor.waitEvent('session-up');
  assert.equal(up.path, 'relay');
  const conn = await visitor.waitEvent('connection');
  assert.equal(conn.path, 'relay', 'the visitor logs the path each connection uses');
});

test('100 concurrent connections, all byte-exact', async () => {
  const target = await echoTarget();
  targets.push(target);
  await lab.provide('many', 'many-secret', target.port);
  const { port } = await lab.visit('many', 'many-secret');
  const payloads = Array.from({ length: 100 }, (_, i) => randomBytes(64 * 1024 + i * 997));
  const results = await Promise.all(payloads.map((p) => exchange(port, p)));
  results.forEach((r, i) => {
    assert.equal(r.error, undefined, `connection ${i}`);
    assert.equal(r.sha256, sha256(payloads[i]!), `connection ${i}`);
  });
  assert.equal(target.connections, 100);
});

test('a server that speaks first (SSH-style banner) works', async () => {
  const banner = 'SSH-2.0-OpenSSH_9.6 burrow-test\r\n';
  const target = await bannerTarget(banner);
  targets.push(target);
  await lab.provide('ssh', 'ssh-secret', target.port);
  const { port } = await lab.visit('ssh', 'ssh-secret');
  const got = await readFirst(port, banner.length);
  assert.equal(got.toString(), banner);
});

test('a reset by the target reaches the client as a reset', async () => {
  const target = await resetTarget();
  targets.push(target);
  await lab.provide('rst', 'rst-secret', target.port);
  const { port } = await lab.visit('rst', 'rst-secret');
  const r = await exchange(port, Buffer.from('hello'));
  assert.equal(r.error, 'ECONNRESET');
});

test('a target that is down resets the client connection, and the tunnel keeps working', async () => {
  const dead = net.createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const provider = await lab.provide('down', 'down-secret', deadPort);
  const { port } = await lab.visit('down', 'down-secret');
  const r = await exchange(port, Buffer.from('anyone there?'));
  assert.equal(r.error, 'ECONNRESET');
  await provider.waitEvent('target-error');
});

/**
 * Hostile bytes on the rendezvous's control port: it stays up, keeps serving
 * everyone else, and its memory stays bounded.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, startLab } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

/** These tests are about the relay path (issue 3): stcp keeps every byte on it. */
const STCP = ['--mode', 'stcp'];

const group = new ProcessGroup();
const targets: Target[] = [];
const sockets: net.Socket[] = [];

after(async () => {
  for (const s of sockets) s.destroy();
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function open(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  sockets.push(s);
  await once(s, 'connect');
  return s;
}

/** Resolves when the server closes `s`, or false after `ms`. */
function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.resume();
  });
}

test('random bytes, huge lengths, truncated frames and 1000 silent connections do not hurt anyone else', async () => {
  const lab = await startLab(group, { peerArgs: STCP });
  const target = await echoTarget();
  targets.push(target);
  await lab.provide('svc', 'pw', target.port);
  const { port } = await lab.visit('svc', 'pw');
  const payload = randomBytes(300_000);
  assert.equal((await exchange(port, payload)).sha256, sha256(payload));
  const pid = lab.rendezvous.pid;
  const rssBefore = rssBytes(pid);

  // 1000 connections that never speak.
  const silent: net.Socket[] = [];
  for (let i = 0; i < 1000; i++) silent.push(await open(lab.rvPort));

  // A frame header announcing 4 GiB: refused at once, nothing buffered.
  const huge = await open(lab.rvPort);
  huge.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]));
  assert.ok(await closedWithin(huge, 5_000), 'a huge length prefix must close the connection');

  // Random bytes: 50 connections, up to 64 KiB each.
  const noisy = await Promise.all(Array.from({ length: 50 }, () => open(lab.rvPort)));
  for (const s of noisy) s.write(randomBytes(1 + Math.floor(Math.random() * 65536)));
  // Valid frames with invalid messages.
  const schema = await open(lab.rvPort);
  const body = Buffer.from(JSON.stringify({ type: 'login', role: 'admin', nonce: 'x', proof: 'y' }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = 1;
  body.copy(frame, 5);
  schema.write(frame);
  assert.ok(await closedWithin(schema, 5_000), 'a message that fails the schema must close the connection');
  // A truncated frame: header promises 100 bytes, 10 arrive.
  const truncated = await open(lab.rvPort);
  truncated.write(Buffer.concat([Buffer.from([0, 0, 0, 100, 1]), Buffer.alloc(9, 0x7b)]));

  // Meanwhile the rendezvous serves everyone else: the running tunnel and a brand-new provider.
  assert.equal((await exchange(port, payload)).sha256, sha256(payload));
  const other = await echoTarget();
  targets.push(other);
  await lab.provide('svc2', 'pw2', other.port);
  const v2 = await lab.visit('svc2', 'pw2');
  assert.equal((await exchange(v2.port, payload)).sha256, sha256(payload));

  const rssDuring = rssBytes(pid);
  assert.ok(lab.rendezvous.running, 'the rendezvous must stay up');
  assert.ok(rssDuring - rssBefore < 96 * 1024 * 1024, `RSS grew by ${((rssDuring - rssBefore) / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(lab.rendezvous.count('invalid-frame') + lab.rendezvous.count('log-suppressed') > 0, 'invalid frames are logged');

  // The silent and truncated connections are dropped after the login timeout (10 s).
  assert.ok(await closedWithin(truncated, 15_000), 'a truncated frame must not hold a connection forever');
  const closed = await Promise.all(silent.map((s) => closedWithin(s, 5_000)));
  assert.equal(closed.filter(Boolean).length, silent.length, 'silent connections are closed after the login timeout');
});

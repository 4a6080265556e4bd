/**
 * Several rendezvous addresses (`--server a,b`): a peer uses the first, and
 * when it dies (SIGKILL) moves to the next by itself, logs in and registers
 * again; a session already on the direct path carries on untouched.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, freePort, type BurrowProcess } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';

const group = new ProcessGroup();
const targets: Target[] = [];
after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

async function rendezvous(token: string): Promise<{ proc: BurrowProcess; port: number }> {
  const port = await freePort();
  const proc = group.spawn(`rendezvous ${port}`, ['rendezvous', '--listen', `127.0.0.1:${port}`, '--token', token]);
  await proc.waitEvent('listening');
  return { proc, port };
}

/** Sends `payload` on `conn` and resolves once as many bytes came back, byte-exact. */
async function echoOn(conn: Socket, payload: Buffer, timeoutMs: number): Promise<void> {
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo: ${got} of ${payload.length} bytes in ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= payload.length) {
        clearTimeout(timer);
        conn.off('data', onData);
        resolve();
      }
    };
    conn.on('data', onData);
    conn.once('close', () => reject(new Error(`connection closed after ${got} bytes`)));
  });
  conn.write(payload);
  await done;
  assert.ok(Buffer.concat(chunks).equals(payload), 'echo is byte-exact');
}

/** One fresh connection through the visitor's port, echoing a small payload; false if it failed. */
async function freshEcho(port: number): Promise<boolean> {
  const conn = createConnection(port, '127.0.0.1');
  conn.on('error', () => {});
  try {
    await once(conn, 'connect');
    await echoOn(conn, randomBytes(1000), 3000);
    return true;
  } catch {
    return false;
  } finally {
    conn.destroy();
  }
}

async function setup(mode: 'xtcp' | 'stcp') {
  const target = await echoTarget();
  targets.push(target);
  const token = `tok-${randomBytes(6).toString('hex')}`;
  const secret = `sec-${randomBytes(6).toString('hex')}`;
  const a = await rendezvous(token);
  const b = await rendezvous(token);
  const servers = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
  const provider = group.spawn(`provider ${mode}`, [
    'provide', '--server', servers, '--token', token, '--name', 'nas', '--secret', secret, '--to', `127.0.0.1:${target.port}`, '--mode', mode,
  ]);
  await provider.waitEvent('registered');
  const vport = await freePort();
  const visitor = group.spawn(`visitor ${mode}`, [
    'visit', '--server', servers, '--token', token, '--name', 'nas', '--secret', secret, '--listen', `127.0.0.1:${vport}`, '--mode', mode,
  ]);
  await visitor.waitEvent('listening');
  return { a, b, provider, visitor, vport };
}

test('stcp: the first rendezvous is SIGKILLed; provider and visitor move to the second and a new connection works within 10 s', { timeout: 60_000 }, async () => {
  const { a, b, provider, visitor, vport } = await setup('stcp');
  // Both logged in at the first address of the list.
  const first = await provider.waitEvent('rendezvous-connected');
  assert.equal(first.server, `127.0.0.1:${a.port}`);
  assert.ok(await freshEcho(vport), 'works through the first rendezvous');

  const registeredBefore = provider.count('registered');
  a.proc.kill('SIGKILL');
  const killedAt = Date.now();
  let worked = false;
  while (!worked && Date.now() - killedAt < 10_000) {
    worked = await freshEcho(vport);
    if (!worked) await new Promise((r) => setTimeout(r, 200));
  }
  const tookMs = Date.now() - killedAt;
  assert.ok(worked, 'a new connection must work within 10 s of the kill');
  const lost = await provider.waitEvent('rendezvous-lost');
  assert.equal(lost.server, `127.0.0.1:${a.port}`);
  assert.equal(lost.next, `127.0.0.1:${b.port}`);
  assert.ok(provider.count('registered') > registeredBefore, 'the provider registered again, at the second node');
  const moved = await visitor.waitFor((e) => e.event === 'rendezvous-connected' && e.server === `127.0.0.1:${b.port}`, 'visitor on b', 5000);
  assert.ok(moved);
  assert.ok(tookMs < 10_000, `took ${tookMs} ms`);
});

test('xtcp: a session on the direct path carries on untouched when the rendezvous dies and the peers move to another', { timeout: 60_000 }, async () => {
  const { a, b, provider, visitor, vport } = await setup('xtcp');
  const conn = createConnection(vport, '127.0.0.1');
  await once(conn, 'connect');
  await echoOn(conn, randomBytes(50_000), 10_000);
  await visitor.waitFor((e) => e.event === 'path' && e.path === 'direct', 'the direct path', 15_000);
  const closedBefore = visitor.count('session-closed');

  a.proc.kill('SIGKILL');
  await provider.waitFor((e) => e.event === 'rendezvous-connected' && e.server === `127.0.0.1:${b.port}`, 'provider on b', 10_000);
  await visitor.waitFor((e) => e.event === 'rendezvous-connected' && e.server === `127.0.0.1:${b.port}`, 'visitor on b', 10_000);
  // The same TCP connection, the same session: more bytes both ways, byte-exact.
  await echoOn(conn, randomBytes(2 * 1024 * 1024), 20_000);
  assert.equal(visitor.count('session-closed'), closedBefore, 'the session was never closed');
  conn.destroy();
});

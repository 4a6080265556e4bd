/**
 * `burrow status` over a peer's admin socket: a real rendezvous, provider
 * and visitor (CLI processes) with an xtcp session on loopback; the status
 * shows the session on its direct path once punched, in JSON and in words,
 * never a secret or token. The socket is 0600, gone after stop, replaces a
 * stale one, refuses one in use, answers a bad request with an error.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, startLab } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { AdminServer } from '../../peer/admin-server.js';
import { isBurrowError } from '../../src/errors.js';

const group = new ProcessGroup();
const targets: Target[] = [];
const dir = mkdtempSync(join(tmpdir(), 'burrow-status-'));

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** One raw request line to an admin socket, the answer line parsed. */
async function rawAsk(path: string, line: string): Promise<{ ok: boolean; error?: { message: string } }> {
  const s = createConnection(path);
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (text += d));
  s.write(line);
  await once(s, 'end');
  s.destroy();
  return JSON.parse(text) as { ok: boolean; error?: { message: string } };
}

async function status(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const p = group.spawn('status', ['status', ...args], { json: false, env });
  const code = await p.waitExit();
  return { code, out: p.stdout, err: p.stderrText.join('\n') };
}

interface SessionJson {
  path: string;
  family?: string;
  rttMs?: number;
  bytesSent: number;
  bytesReceived: number;
}
interface StatusJson {
  pid: number;
  peers: { role: string; services: string[]; sessions: SessionJson[] }[];
}

test('burrow status shows a live xtcp session on its direct path, in JSON and words, without secrets', { timeout: 90_000 }, async () => {
  const target = await echoTarget();
  targets.push(target);
  const token = `tok-${randomBytes(8).toString('hex')}`;
  const secret = `sec-${randomBytes(8).toString('hex')}`;
  const lab = await startLab(group, { token });
  const pSock = join(dir, 'p.sock');
  const vSock = join(dir, 'v.sock');
  const provider = await lab.provide('nas', secret, target.port, ['--admin', pSock]);
  const { proc: visitor, port } = await lab.visit('nas', secret, ['--admin', vSock]);
  assert.equal(statSync(vSock).mode & 0o777, 0o600, 'the visitor\'s socket is 0600');
  assert.equal(statSync(pSock).mode & 0o777, 0o600, 'the provider\'s socket is 0600');

  // A connection held open keeps the session up while we look.
  const conn = createConnection(port, '127.0.0.1');
  await once(conn, 'connect');
  const payload = randomBytes(20_000);
  let echoed = 0;
  conn.on('data', (d: Buffer) => (echoed += d.length));
  conn.write(payload);
  try {
    let last: StatusJson | null = null;
    let raw = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const r = await status(['--admin', vSock, '--json']);
      assert.equal(r.code, 0, r.err);
      raw = r.out;
      last = JSON.parse(r.out) as StatusJson;
      const s = last.peers[0]?.sessions[0];
      if (s !== undefined && s.path.startsWith('direct') && echoed >= payload.length) break;
      await new Promise((res) => setTimeout(res, 300));
    }
    assert.ok(last !== null);
    assert.equal(last.pid, visitor.pid);
    const peer = last.peers[0];
    assert.equal(peer?.role, 'visitor');
    assert.deepEqual(peer?.services, ['nas']);
    const session = peer?.sessions[0];
    assert.ok(session !== undefined, 'one session');
    assert.match(session.path, /^direct_(lan|internet)$/, `on a direct path: ${raw}`);
    assert.equal(session.family, 'ipv4');
    assert.ok(session.bytesSent >= payload.length, `bytes sent ${session.bytesSent}`);
    assert.ok(session.bytesReceived >= payload.length, `bytes received ${session.bytesReceived}`);
    assert.ok(!raw.includes(secret) && !raw.includes(token), 'no secret or token in the status');

    const words = await status(['--admin', vSock]);
    assert.equal(words.code, 0, words.err);
    assert.match(words.out, /visitor of nas: 1 session/);
    assert.match(words.out, /session \d+ \(nas\): direct (LAN|internet) IPv4/);
    assert.match(words.out, /sent [\d.]+ KiB, received [\d.]+ KiB, up \d+s/);
    assert.ok(!words.out.includes(secret) && !words.out.includes(token));

    const p = await status(['--admin', pSock, '--json']);
    assert.equal(p.code, 0, p.err);
    assert.ok(!p.out.includes(secret) && !p.out.includes(token));
    assert.equal((JSON.parse(p.out) as StatusJson).peers[0]?.role, 'provider');

    // Bad requests get an error answer; the peer keeps running and answering.
    assert.match((await rawAsk(vSock, 'not json\n')).error?.message ?? '', /not JSON/);
    assert.match((await rawAsk(vSock, '{"cmd":"reboot"}\n')).error?.message ?? '', /unknown command/);
    assert.match((await rawAsk(vSock, `${'x'.repeat(10_000)}`)).error?.message ?? '', /longer than/);
    assert.equal((await rawAsk(vSock, '{"cmd":"status"}\n')).ok, true);
    assert.ok(visitor.running);
  } finally {
    conn.destroy();
  }

  visitor.kill('SIGTERM');
  provider.kill('SIGTERM');
  assert.equal(await visitor.waitExit(), 0);
  assert.equal(await provider.waitExit(), 0);
  assert.equal(existsSync(vSock), false, 'the visitor removed its socket');
  assert.equal(existsSync(pSock), false, 'the provider removed its socket');
});

test('the default socket is found without --admin; --admin off opens none; no peer is a clear error', { timeout: 60_000 }, async () => {
  const lab = await startLab(group, { peerArgs: ['--mode', 'stcp'] });
  const xdg = join(dir, 'xdg');
  mkdirSync(xdg, { mode: 0o700 });
  const env = { XDG_RUNTIME_DIR: xdg };
  // A killed peer's socket file, under a pid that runs (ours): nobody answers there, so it does not count.
  mkdirSync(join(xdg, 'burrow'), { mode: 0o700 });
  const leftover = join(xdg, 'burrow', `visitor-${process.pid}.sock`);
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(leftover)}, () => process.exit(0))`]);
  assert.equal(r.status, 0);
  assert.ok(statSync(leftover).isSocket());
  const none = await status([], env);
  assert.equal(none.code, 1);
  assert.match(none.err, /no running burrow peer found/);

  const off = group.spawn('visitor off', ['visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', lab.token, '--name', 'x', '--secret', 's', '--listen', '127.0.0.1:0', '--mode', 'stcp', '--admin', 'off', '--log-format', 'json'], { json: false, env });
  await off.waitEvent('listening');
  assert.equal((await status([], env)).code, 1, 'a peer with --admin off has no socket');

  const on = group.spawn('visitor on', ['visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', lab.token, '--name', 'x', '--secret', 's', '--listen', '127.0.0.1:0', '--mode', 'stcp', '--log-format', 'json'], { json: false, env });
  await on.waitEvent('listening');
  const sock = join(xdg, 'burrow', `visitor-${on.pid}.sock`);
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  assert.equal(statSync(join(xdg, 'burrow')).mode & 0o777, 0o700);
  const found = await status(['--json'], env);
  assert.equal(found.code, 0, found.err);
  assert.equal((JSON.parse(found.out) as StatusJson).pid, on.pid);

  // A second socket (a second peer running): status asks which.
  const other = join(xdg, 'burrow', `provider-${process.pid}.sock`);
  const server = await AdminServer.start(other, () => ({ pid: process.pid, peers: [] }));
  try {
    const several = await status([], env);
    assert.equal(several.code, 2);
    assert.match(several.err, /several burrow peers/);
    assert.ok(several.err.includes(sock) && several.err.includes(other), several.err);
  } finally {
    await server.stop();
  }
  off.kill('SIGTERM');
  on.kill('SIGTERM');
  await Promise.all([off.waitExit(), on.waitExit()]);
  assert.equal(existsSync(sock), false);

  // A runtime directory that cannot hold the socket: the peer runs anyway and says why status cannot reach it.
  const notADir = join(dir, 'xdg-file');
  writeFileSync(notADir, '');
  const warned = group.spawn('visitor warned', ['visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', lab.token, '--name', 'x', '--secret', 's', '--listen', '127.0.0.1:0', '--mode', 'stcp', '--log-format', 'json'], { json: false, env: { XDG_RUNTIME_DIR: notADir } });
  await warned.waitEvent('admin-unavailable');
  await warned.waitEvent('listening');
  warned.kill('SIGTERM');
  await warned.waitExit();
});

test('a config file\'s admin = PATH serves the status of its [[visit]] entries', { timeout: 60_000 }, async () => {
  const lab = await startLab(group, { peerArgs: ['--mode', 'stcp'] });
  const sock = join(dir, 'cfg.sock');
  const file = join(dir, 'admin.toml');
  writeFileSync(
    file,
    `server = "127.0.0.1:${lab.rvPort}"\ntoken = "${lab.token}"\nadmin = "${sock}"\nlog_format = "json"\n\n[[visit]]\nname = "cfg"\nsecret = "cfg-secret"\nlisten = "127.0.0.1:0"\nmode = "stcp"\n`,
  );
  const p = group.spawn('config', ['-c', file], { json: false });
  await p.waitEvent('listening');
  const r = await status(['--admin', sock, '--json']);
  assert.equal(r.code, 0, r.err);
  const st = JSON.parse(r.out) as StatusJson;
  assert.deepEqual(st.peers.map((x) => [x.role, x.services]), [['visitor', ['cfg']]]);
  assert.ok(!r.out.includes('cfg-secret') && !r.out.includes(lab.token));
  p.kill('SIGTERM');
  assert.equal(await p.waitExit(), 0);
  assert.equal(existsSync(sock), false);
});

test('AdminServer replaces a stale socket, refuses one in use and a file that is not a socket', async () => {
  const stale = join(dir, 'stale.sock');
  // A process that listened and died without closing leaves its socket file behind.
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
  assert.equal(r.status, 0);
  assert.ok(statSync(stale).isSocket(), 'a stale socket file is there');
  const server = await AdminServer.start(stale, () => ({ fine: true }));
  try {
    assert.deepEqual(await rawAsk(stale, '{"cmd":"status"}\n'), { ok: true, status: { fine: true } });
    await assert.rejects(AdminServer.start(stale, () => ({})), (e: unknown) => isBurrowError(e, 'ERR_CONFIG') && /in use/.test(e.message));
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(stale), false);

  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'keep me');
  await assert.rejects(AdminServer.start(file, () => ({})), (e: unknown) => isBurrowError(e, 'ERR_CONFIG') && /not a socket/.test(e.message));
  assert.equal(readFileSync(file, 'utf8'), 'keep me', 'left as it was');
});

test('AdminServer holds a few connections at once: more wait or are refused, none crashes it', async () => {
  const path = join(dir, 'bounded.sock');
  const server = await AdminServer.start(path, () => ({ n: 1 }));
  const idle = Array.from({ length: 8 }, () => createConnection(path));
  try {
    await new Promise((res) => setTimeout(res, 200));
    // The cap's connections are idle; others are dropped by the server, not queued forever.
    const closed = idle.filter((s) => s.destroyed || s.readableEnded).length;
    assert.ok(closed >= 8 - 4, `connections past the cap are closed (${closed})`);
  } finally {
    for (const s of idle) s.destroy();
  }
  await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(await rawAsk(path, '{"cmd":"status"}\n'), { ok: true, status: { n: 1 } });
  await server.stop();
});

/**
 * `burrow reload` and SIGHUP on a real `burrow -c FILE` process (loopback,
 * real CLI processes): a 32 MiB download through [[provide]] a runs across
 * a reload that adds [[provide]] b and arrives byte-exact; b is then
 * reachable, status shows both; removing b stops it; a broken file changes
 * nothing and `burrow reload` says why (exit 1); an entry that cannot start
 * is reported and the rest runs; SIGHUP does the same as `burrow reload`;
 * a process not started with -c refuses to reload.
 */
import type { ReloadReport } from '../../cli/config-runtime.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, freePort, startLab, type BurrowProcess, type Lab } from '../support/cli.js';
import { duplexTarget, echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';
import { metricsUrl, parseScrape, scrape, total } from '../metrics/scrape.js';

const group = new ProcessGroup();
const targets: Target[] = [];
const dir = mkdtempSync(join(tmpdir(), 'burrow-reload-'));

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

async function cli(name: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const p = group.spawn(name, args, { json: false });
  const code = await p.waitExit(90_000);
  return { code, out: p.stdout, err: p.stderrText.join('\n') };
}

interface Entry {
  kind: 'provide' | 'visit';
  name: string;
  secret: string;
  /** provide: the target port; visit: the listen port. */
  port: number;
}

function configText(lab: Lab, sock: string, entries: Entry[], top: string[] = []): string {
  const lines = [`server = "127.0.0.1:${lab.rvPort}"`, `token = "${lab.token}"`, `admin = "${sock}"`, 'log_format = "json"', ...top, ''];
  for (const e of entries) {
    lines.push(`[[${e.kind}]]`, `name = "${e.name}"`, `secret = "${e.secret}"`);
    lines.push(e.kind === 'provide' ? `to = "127.0.0.1:${e.port}"` : `listen = "127.0.0.1:${e.port}"`, '');
  }
  return lines.join('\n');
}

/** One echo round trip through a visitor's port: what came back (empty if the connection closed first). */
async function echoThrough(port: number, size = 64 * 1024): Promise<{ ok: boolean; detail: string }> {
  const payload = randomBytes(size);
  const r = await exchange(port, payload, 30_000);
  return { ok: r.bytes === size && r.sha256 === sha256(payload), detail: `${r.bytes} of ${size} bytes${r.error ? `, ${r.error}` : ''}` };
}

/** Waits for `event` logged after index `from` whose fields match. */
function waitLogged(p: BurrowProcess, event: string, from: number, match: (e: Record<string, unknown>) => boolean = () => true, timeoutMs = 20_000) {
  return p.waitFor((e) => e.event === event && match(e), `"${event}"`, timeoutMs, from);
}

/** What `burrow reload --json` prints: the runtime's report. */
type ReloadJson = Omit<ReloadReport, 'file'>;

/**
 * A download that can be held: the client reads `holdAfter` bytes, then
 * stops reading (back-pressure stalls the sender all the way back) until
 * released, then reads the rest.
 */
function heldDownload(port: number, holdAfter: number) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const hash = createHash('sha256');
  let bytes = 0;
  let held!: () => void;
  const holding = new Promise<void>((r) => (held = r));
  socket.on('data', (d: Buffer) => {
    bytes += d.length;
    hash.update(d);
    if (bytes >= holdAfter && !socket.isPaused() && holdAfter > 0) {
      socket.pause();
      holdAfter = 0;
      held();
    }
  });
  const done = new Promise<{ bytes: number; sha256: string; error?: string }>((resolve) => {
    let error: string | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ bytes, sha256: hash.digest('hex'), ...(error ? { error } : {}) }));
  });
  // The target sends first and closes after our half-close: end our side now.
  socket.on('connect', () => socket.end());
  return { holding, done, resume: () => socket.resume(), destroy: () => socket.destroy(), get bytes() { return bytes; } };
}

test('burrow reload adds a [[provide]] without dropping a transfer through another; removes it; a bad file changes nothing', { timeout: 240_000 }, async () => {
  const download = randomBytes(32 * MiB);
  const uploads: string[] = [];
  const big = await duplexTarget(download, uploads);
  const echoB = await echoTarget();
  targets.push(big, echoB);
  const lab = await startLab(group);
  const sock = join(dir, 'peer.sock');
  const file = join(dir, 'burrow.toml');
  const a: Entry = { kind: 'provide', name: 'svc-a', secret: `sa-${randomBytes(6).toString('hex')}`, port: big.port };
  const b: Entry = { kind: 'provide', name: 'svc-b', secret: `sb-${randomBytes(6).toString('hex')}`, port: echoB.port };
  const top = ['metrics = "127.0.0.1:0"'];
  writeFileSync(file, configText(lab, sock, [a], top), { mode: 0o600 });
  const peer = group.spawn('config', ['-c', file], { json: false });
  const metrics = await metricsUrl(peer);
  await peer.waitEvent('registered', 20_000);
  const { proc: visitA, port: portA } = await lab.visit(a.name, a.secret);
  const { port: portB } = await lab.visit(b.name, b.secret);

  const transfer = heldDownload(portA, 4 * MiB);
  try {
    await transfer.holding;

    // Add b while a's download is held half-way.
    writeFileSync(file, configText(lab, sock, [a, b], top));
    let mark = peer.events.length;
    const added = await cli('reload', ['reload', '--admin', sock, '--json']);
    assert.equal(added.code, 0, added.err);
    const report = JSON.parse(added.out) as ReloadJson;
    assert.deepEqual(report.started, ['provide svc-b']);
    assert.deepEqual(report.unchanged, ['provide svc-a']);
    assert.deepEqual([report.stopped, report.restarted, report.failed, report.needsRestart], [[], [], [], []]);
    assert.deepEqual(report.running, ['provide svc-a', 'provide svc-b']);
    const logged = await waitLogged(peer, 'reloaded', mark);
    assert.equal(logged['started'], 'provide svc-b');
    assert.ok(!JSON.stringify(peer.events.slice(mark)).includes(b.secret), 'no secret in the reload log lines');
    await waitLogged(peer, 'registered', mark, (e) => e['services'] === 'svc-b');

    const viaB = await echoThrough(portB);
    assert.ok(viaB.ok, `b answers through its visitor: ${viaB.detail}`);

    // The status of the one admin socket shows both providers.
    const st = await cli('status', ['status', '--admin', sock, '--json']);
    assert.equal(st.code, 0, st.err);
    const services = (JSON.parse(st.out) as { peers: Array<{ role: string; services: string[] }> }).peers.map((p) => `${p.role} ${p.services.join(',')}`);
    assert.deepEqual(services, ['provider svc-a', 'provider svc-b']);

    // A broken file: an error, exit 1, and everything runs on.
    writeFileSync(file, `${configText(lab, sock, [a, b], top)}\n[[provide]\nname = `);
    mark = peer.events.length;
    const broken = await cli('reload broken', ['reload', '--admin', sock]);
    assert.equal(broken.code, 1, broken.out);
    assert.match(broken.err, /reload failed: .*burrow\.toml is not valid TOML/);
    assert.match(broken.err, /nothing changed/);
    await waitLogged(peer, 'reload-failed', mark);
    assert.equal(peer.count('provider-started'), 2, 'nothing started or stopped');

    // The held download resumes and completes byte-exact: never reset.
    transfer.resume();
    const got = await transfer.done;
    assert.equal(got.error, undefined, `no error on the transfer: ${got.error ?? ''}`);
    assert.equal(got.bytes, download.length);
    assert.equal(got.sha256, sha256(download));
    assert.equal(visitA.count('session-closed'), 0, 'a\'s visitor kept its session');
    const viaB2 = await echoThrough(portB);
    assert.ok(viaB2.ok, `b still answers after the broken reload: ${viaB2.detail}`);

    // Remove b: it stops; its visitor cannot reach it any more; a keeps going; no count goes down.
    const countsBefore = parseScrape(await scrape(metrics));
    writeFileSync(file, configText(lab, sock, [a], top));
    const removed = await cli('reload remove', ['reload', '--admin', sock]);
    assert.equal(removed.code, 0, removed.err);
    assert.match(removed.out, /stopped: provide svc-b/);
    assert.match(removed.out, /unchanged, left running: provide svc-a/);
    const gone = await echoThrough(portB, 1024);
    assert.equal(gone.ok, false, `b is gone: ${gone.detail}`);
    const countsAfter = parseScrape(await scrape(metrics));
    for (const name of ['burrow_provider_sessions_opened_total', 'burrow_provider_bytes_total']) {
      const was = total(countsBefore, name) ?? 0;
      assert.ok(was > 0, `${name} counted b's and a's traffic`);
      assert.ok((total(countsAfter, name) ?? 0) >= was, `${name} did not go down when b left (${was} -> ${total(countsAfter, name)})`);
    }
    const again = await exchange(portA, Buffer.alloc(0), 60_000);
    assert.equal(again.sha256, sha256(download), 'a serves a new download after b left');
  } finally {
    transfer.destroy();
  }
  peer.kill('SIGTERM');
  assert.equal(await peer.waitExit(), 0);
});

test('SIGHUP reloads like burrow reload; an entry that cannot start is reported and the rest runs; a non -c process refuses', { timeout: 180_000 }, async () => {
  const echo = await echoTarget();
  targets.push(echo);
  const lab = await startLab(group);
  const sock = join(dir, 'hup.sock');
  const file = join(dir, 'hup.toml');
  const a: Entry = { kind: 'provide', name: 'hup-a', secret: 'secret-hup-a', port: echo.port };
  const listenA = await freePort();
  const va: Entry = { kind: 'visit', name: 'hup-a', secret: 'secret-hup-a', port: listenA };
  writeFileSync(file, configText(lab, sock, [a, va]), { mode: 0o600 });
  const peer = group.spawn('config hup', ['-c', file], { json: false });
  await peer.waitEvent('registered', 20_000);
  await peer.waitEvent('listening', 20_000);
  assert.ok((await echoThrough(listenA)).ok, 'a through the file\'s own visitor');

  // SIGHUP with a new [[provide]] and [[visit]] pair: both start, a keeps going.
  const c: Entry = { kind: 'provide', name: 'hup-c', secret: 'secret-hup-c', port: echo.port };
  const vc: Entry = { kind: 'visit', name: 'hup-c', secret: 'secret-hup-c', port: await freePort() };
  writeFileSync(file, configText(lab, sock, [a, va, c, vc]));
  let mark = peer.events.length;
  peer.kill('SIGHUP');
  const hup = await waitLogged(peer, 'reloaded', mark);
  assert.equal(hup['started'], 'provide hup-c, visit hup-c');
  assert.equal(hup['unchanged'], 'provide hup-a, visit hup-a');
  assert.ok((await echoThrough(vc.port)).ok, 'c reachable after SIGHUP');
  assert.ok(peer.running);

  // SIGHUP with a broken file: logged, nothing changes, the process runs on.
  writeFileSync(file, 'server = 7\n');
  mark = peer.events.length;
  peer.kill('SIGHUP');
  const failed = await waitLogged(peer, 'reload-failed', mark);
  assert.match(String(failed['error']), /server/);
  assert.ok((await echoThrough(vc.port)).ok && (await echoThrough(listenA)).ok, 'everything still runs');

  // A changed visitor whose new port is taken: reported, not running; the others are untouched.
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    writeFileSync(file, configText(lab, sock, [a, va, c, { ...vc, port: taken }]));
    const r = await cli('reload taken', ['reload', '--admin', sock]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAILED to start: visit hup-c: .*(EADDRINUSE|in use)/);
    assert.match(r.out, /not running now: visit hup-c/);
    assert.match(r.out, /running: provide hup-a, visit hup-a, provide hup-c/);
    assert.ok((await echoThrough(listenA)).ok, 'a still runs');
  } finally {
    blocker.close();
  }
  // The port is free again: the next reload starts the entry that failed.
  const retry = await cli('reload retry', ['reload', '--admin', sock, '--json']);
  assert.equal(retry.code, 0, retry.err);
  assert.deepEqual((JSON.parse(retry.out) as ReloadJson).started, ['visit hup-c']);
  assert.ok((await echoThrough(taken)).ok, 'c on its new port');

  // An entry added by a reload that then fails for good (a wrong secret) stops alone; the process and the others run on.
  const wrong: Entry = { kind: 'visit', name: 'hup-a', secret: 'not-the-secret', port: await freePort() };
  writeFileSync(file, configText(lab, sock, [a, va, c, { ...vc, port: taken }, wrong]));
  mark = peer.events.length;
  const added = await cli('reload wrong secret', ['reload', '--admin', sock, '--json']);
  assert.equal(added.code, 0, added.err);
  assert.deepEqual((JSON.parse(added.out) as ReloadJson).started, ['visit hup-a#2']);
  const failedEntry = await waitLogged(peer, 'entry-failed', mark);
  assert.equal(failedEntry['entry'], 'visit hup-a#2');
  assert.equal(failedEntry['code'], 'ERR_HANDSHAKE_SECRET_MISMATCH');
  assert.ok(peer.running, 'the process runs on');
  assert.ok((await echoThrough(listenA)).ok && (await echoThrough(taken)).ok, 'the other entries still answer');
  const afterFail = await cli('status after entry failed', ['status', '--admin', sock, '--json']);
  assert.equal((JSON.parse(afterFail.out) as { peers: unknown[] }).peers.length, 4, 'the failed entry left the status');
  writeFileSync(file, configText(lab, sock, [a, va, c, { ...vc, port: taken }]));

  // A settings change that needs a restart is reported, and left as it was.
  writeFileSync(file, configText(lab, sock, [a, va, c, { ...vc, port: taken }]).replace('log_format = "json"', 'log_format = "json"\nlog_level = "debug"'));
  const nr = await cli('reload needs restart', ['reload', '--admin', sock]);
  assert.equal(nr.code, 0, nr.err);
  assert.match(nr.out, /no entry changed/);
  assert.match(nr.out, /only a restart applies it .*: log_level/);

  // A process not started with -c refuses, clearly.
  const vsock = join(dir, 'plain-visitor.sock');
  await lab.visit(a.name, a.secret, ['--admin', vsock]);
  const plain = await cli('reload plain', ['reload', '--admin', vsock]);
  assert.equal(plain.code, 1);
  assert.match(plain.err, /not started with -c FILE/);

  peer.kill('SIGTERM');
  assert.equal(await peer.waitExit(), 0);
});

test('burrow reload --help teaches', async () => {
  const r = await cli('help', ['reload', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /Example:/);
  assert.match(r.out, /SIGHUP/);
  assert.match(r.out, /changes nothing/);
});

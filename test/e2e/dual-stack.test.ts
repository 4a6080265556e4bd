/**
 * Dual stack end to end with the real CLI (issue 10): one rendezvous on
 * `--listen [::]:0`, peers reaching it over 127.0.0.1 and over [::1], bytes
 * byte-exact through the relay both ways round (loopback only).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, freePort, type BurrowProcess } from '../support/cli.js';
import { duplexTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

const MB = 1024 * 1024;
const TOKEN = 'dual-stack-token';
const group = new ProcessGroup();
const targets: Target[] = [];
let rv: BurrowProcess;
let port: number;

before(async () => {
  rv = group.spawn('rendezvous', ['rendezvous', '--listen', '[::]:0', '--token', TOKEN]);
  const ev = await rv.waitEvent('listening');
  const m = /^\[::\]:(\d+)$/.exec(String(ev.tcp));
  assert.ok(m, `listening on [::]: ${String(ev.tcp)}`);
  port = Number(m[1]);
  assert.equal(ev.udp, `[::]:${port},[::]:${port + 1},0.0.0.0:${port},0.0.0.0:${port + 1}`);
});

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

async function through(name: string, providerServer: string, visitorServer: string, extra: string[]): Promise<BurrowProcess> {
  const download = randomBytes(8 * MB);
  const upload = randomBytes(8 * MB);
  const uploads: string[] = [];
  const target = await duplexTarget(download, uploads);
  targets.push(target);
  const common = ['--token', TOKEN, '--name', name, '--secret', `${name}-secret`, ...extra];
  const provider = group.spawn(`provider ${name}`, ['provide', '--server', providerServer, '--to', `127.0.0.1:${target.port}`, ...common]);
  await provider.waitEvent('registered');
  const local = await freePort();
  const visitor = group.spawn(`visitor ${name}`, ['visit', '--server', visitorServer, '--listen', `127.0.0.1:${local}`, ...common]);
  await visitor.waitEvent('listening');
  const got = await exchange(local, upload);
  assert.equal(got.error, undefined);
  assert.equal(got.sha256, sha256(download));
  assert.deepEqual(uploads, [sha256(upload)]);
  return visitor;
}

describe('rendezvous on [::]:0, peers on both families', { timeout: 120_000 }, () => {
  it('provider over 127.0.0.1, visitor over [::1]: byte-exact through the relay', async () => {
    const visitor = await through('v4v6', `127.0.0.1:${port}`, `[::1]:${port}`, ['--mode', 'stcp']);
    assert.equal((await visitor.waitEvent('session-up')).path, 'relay');
  });

  it('provider over [::1], visitor over 127.0.0.1: byte-exact through the relay', async () => {
    await through('v6v4', `[::1]:${port}`, `127.0.0.1:${port}`, ['--mode', 'stcp']);
    const logins = rv.events.filter((e) => e.event === 'peer-login').map((e) => String(e.remote));
    assert.ok(logins.some((r) => r.startsWith('[::1]:')), 'some peers came over IPv6');
    assert.ok(logins.some((r) => r.startsWith('127.0.0.1:')), 'some over IPv4, logged without ::ffff:');
  });

  it('a peer given the rendezvous by name (localhost) connects too', async () => {
    await through('byname', `localhost:${port}`, `[::1]:${port}`, ['--mode', 'stcp']);
  });

  it('xtcp with the visitor given the rendezvous as [::1]: its IPv4 socket says the rendezvous is not IPv4, the relay carries the bytes', async () => {
    const visitor = await through('xv6', `127.0.0.1:${port}`, `[::1]:${port}`, []);
    const why = await visitor.waitEvent('direct-unavailable');
    assert.match(String(why.reason), /the rendezvous address ::1 is not IPv4: the direct path over IPv4 needs the rendezvous's STUN port over IPv4/);
  });
});

describe('the command line explains dual stack', () => {
  it('burrow rendezvous --help explains --listen [::]:PORT', async () => {
    const p = group.spawn('help', ['rendezvous', '--help'], { json: false });
    assert.equal(await p.waitExit(), 0);
    assert.match(p.stdout, /--listen \[::\]:7000/);
    assert.match(p.stdout, /\[::\]:PORT serves both families/);
    assert.match(p.stdout, /IPv4 only/);
  });

  it('an unbracketed IPv6 --server is a usage error that shows the bracketed form', async () => {
    const p = group.spawn('usage', ['provide', '--server', '::1:7000', '--token', 't', '--name', 'n', '--secret', 's', '--to', '127.0.0.1:80'], { json: false });
    assert.equal(await p.waitExit(), 2);
    assert.match(p.stderrText.join('\n'), /--server .*an IPv6 address needs brackets, e\.g\. \[2001:db8::1\]:7000/);
  });
});

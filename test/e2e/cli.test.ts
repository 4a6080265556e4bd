/** The command line as a user meets it: help, usage errors, config files, the demo. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, freePort } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

const group = new ProcessGroup();
const targets: Target[] = [];
const dir = mkdtempSync(join(tmpdir(), 'burrow-cli-'));

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
  rmSync(dir, { recursive: true, force: true });
});

for (const cmd of ['rendezvous', 'provide', 'visit', 'demo']) {
  test(`burrow ${cmd} --help shows a worked example`, async () => {
    const p = group.spawn(cmd, [cmd, '--help'], { json: false });
    assert.equal(await p.waitExit(), 0);
    assert.match(p.stdout, /Example/);
    assert.match(p.stdout, new RegExp(`burrow ${cmd}`));
  });
}

test('burrow --help explains the roles and a real setup', async () => {
  const p = group.spawn('help', ['--help'], { json: false });
  assert.equal(await p.waitExit(), 0);
  for (const word of ['rendezvous', 'provide', 'visit', 'burrow demo', '-c']) assert.ok(p.stdout.includes(word), word);
});

test('an unknown --mode or --relay is refused with the choices', async () => {
  const p = group.spawn('mode', ['visit', '--server', '127.0.0.1:1', '--token', 't', '--name', 'n', '--secret', 's', '--listen', '127.0.0.1:1', '--mode', 'p2p'], { json: false });
  assert.equal(await p.waitExit(), 2);
  assert.match(p.stderrText.join('\n'), /xtcp, stcp/);
  const q = group.spawn('relay', ['visit', '--server', '127.0.0.1:1', '--token', 't', '--name', 'n', '--secret', 's', '--listen', '127.0.0.1:1', '--relay', 'sometimes'], { json: false });
  assert.equal(await q.waitExit(), 2);
  assert.match(q.stderrText.join('\n'), /fallback, never/);
});


test('missing and malformed flags are usage errors that say what to do', async () => {
  const cases: [string[], RegExp][] = [
    [['provide', '--name', 'n', '--secret', 's', '--to', '127.0.0.1:80', '--token', 't'], /--server is required/],
    [['provide', '--server', 'nowhere', '--token', 't', '--name', 'n', '--secret', 's', '--to', '127.0.0.1:80'], /--server must look like HOST:PORT/],
    [['visit', '--server', '127.0.0.1:7000', '--token', 't', '--name', 'bad name', '--secret', 's', '--listen', '5000'], /service name "bad name" is invalid/],
    [['rendezvous', '--listen', '127.0.0.1:7000'], /--token is required/],
  ];
  for (const [args, pattern] of cases) {
    const p = group.spawn('usage', args, { json: false });
    assert.equal(await p.waitExit(), 2, args.join(' '));
    assert.match(p.stderrText.join('\n'), pattern);
  }
});

test('a config file runs a rendezvous, two services and two visitors in one process', async () => {
  const [a, b] = [await echoTarget(), await echoTarget()];
  targets.push(a, b);
  const [rv, va, vb] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir, 'burrow.toml');
  writeFileSync(
    file,
    `server = "127.0.0.1:${rv}"
token = "cfg-token"
log_format = "json"

[rendezvous]
listen = "127.0.0.1:${rv}"

[[provide]]
name = "alpha"
secret = "alpha-secret"
to = "127.0.0.1:${a.port}"

[[provide]]
name = "beta"
secret = "beta-secret"
to = "127.0.0.1:${b.port}"

[[visit]]
name = "alpha"
secret = "alpha-secret"
listen = "127.0.0.1:${va}"

[[visit]]
name = "beta"
secret = "beta-secret"
listen = "127.0.0.1:${vb}"
`,
  );
  const p = group.spawn('config', ['-c', file], { json: false });
  await p.waitFor((e) => e.event === 'session-up' && e.service === 'alpha', 'alpha session');
  await p.waitFor((e) => e.event === 'session-up' && e.service === 'beta', 'beta session');
  const data = randomBytes(50_000);
  assert.equal((await exchange(va, data)).sha256, sha256(data));
  assert.equal((await exchange(vb, data)).sha256, sha256(data));
  assert.equal(a.connections, 1);
  assert.equal(b.connections, 1);
  p.kill('SIGTERM');
  assert.equal(await p.waitExit(), 0);
});

test('a config file with a typo is refused with the key named', async () => {
  const file = join(dir, 'typo.toml');
  writeFileSync(file, 'server = "127.0.0.1:7000"\ntoken = "t"\n[[provide]]\nname = "x"\nsecret = "s"\ntoo = "127.0.0.1:80"\n');
  const p = group.spawn('typo', ['-c', file], { json: false });
  assert.equal(await p.waitExit(), 2);
  assert.match(p.stderrText.join('\n'), /provide\.0/);
});

test('burrow demo downloads a file through the tunnel and checks it', async () => {
  const p = group.spawn('demo', ['demo', '--size', '4'], { json: false });
  assert.equal(await p.waitExit(60_000), 0, p.stdout);
  assert.match(p.stdout, /result: OK/);
  assert.match(p.stdout, /matches the NAS copy/);
  // xtcp by default: on loopback the punch finds the host candidate.
  assert.match(p.stdout, /path\s+direct (LAN|internet) to [\d.]+:\d+ \(UDP hole punched in \d+ ms\)/);
  assert.match(p.stdout, /throughput\s+[\d.]+ MB\/s/);
});

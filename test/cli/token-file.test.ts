/** --token-file: the token from a file (a systemd credential), never on the command line. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ProcessGroup, freePort } from '../support/cli.js';

const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'burrow-token-file-'));

after(async () => {
  await group.killAll();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

test('the rendezvous and a provider read the token from --token-file (trailing newline ignored); a different file is refused', { timeout: 60_000 }, async () => {
  const token = file('token', 'file-token-7f3a\n');
  const secret = file('secret', 'the-secret\n');
  const port = await freePort();
  const rv = group.spawn('rendezvous', ['rendezvous', '--listen', `127.0.0.1:${port}`, '--udp-port', 'off', '--token-file', token]);
  await rv.waitEvent('listening');
  const peer = ['--server', `127.0.0.1:${port}`, '--name', 'svc', '--secret-file', secret, '--to', '127.0.0.1:9', '--mode', 'stcp'];
  const good = group.spawn('provider', ['provide', '--token-file', token, ...peer]);
  await good.waitEvent('registered');
  const bad = group.spawn('provider-wrong', ['provide', '--token-file', file('other', 'file-token-7f3b\n'), ...peer]);
  assert.equal(await bad.waitExit(), 1);
});

test('a missing or empty --token-file is a usage error that names the file', async () => {
  const empty = file('empty', '\n');
  for (const [path, pattern] of [
    [join(dir, 'nope'), /cannot read --token-file .*nope: ENOENT/],
    [empty, /--token-file .*empty is empty/],
  ] as const) {
    const p = group.spawn('usage', ['rendezvous', '--listen', '127.0.0.1:0', '--token-file', path], { json: false });
    assert.equal(await p.waitExit(), 2);
    assert.match(p.stderrText.join('\n'), pattern);
  }
});

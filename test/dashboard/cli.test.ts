/** `burrow rendezvous --dashboard`: a token off loopback or no start; with one, the page answers to its holder. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ProcessGroup } from '../support/cli.js';

const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'burrow-dashboard-cli-'));

after(async () => {
  await group.killAll();
  rmSync(dir, { recursive: true, force: true });
});

test('--dashboard off loopback without --dashboard-token-file exits with a clear error', { timeout: 30_000 }, async () => {
  const p = group.spawn('rendezvous', ['rendezvous', '--listen', '127.0.0.1:0', '--udp-port', 'off', '--token', 'tok', '--dashboard', '0.0.0.0:0'], { json: false });
  assert.notEqual(await p.waitExit(), 0);
  assert.match(p.stderrText.join('\n'), /reachable from other hosts: give it a token \(--dashboard-token-file FILE/);
});

test('--dashboard with --dashboard-token-file: the page needs the token, the log says where it is', { timeout: 30_000 }, async () => {
  const tokenFile = join(dir, 'dash-token');
  writeFileSync(tokenFile, 'a-dashboard-token-of-some-length\n', { mode: 0o600 });
  const p = group.spawn('rendezvous', ['rendezvous', '--listen', '127.0.0.1:0', '--udp-port', 'off', '--token', 'tok', '--dashboard', '0.0.0.0:0', '--dashboard-token-file', tokenFile]);
  const ev = await p.waitEvent('dashboard-listening');
  assert.equal(ev['token'], 'required');
  const port = Number(/:(\d+)\/$/.exec(String(ev['dashboard']))?.[1]);
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/snapshot`)).status, 401);
  const ok = await fetch(`http://127.0.0.1:${port}/api/snapshot`, { headers: { authorization: 'Bearer a-dashboard-token-of-some-length' } });
  assert.equal(ok.status, 200);
  assert.deepEqual(((await ok.json()) as { services: unknown[] }).services, []);
});

test('a config file\'s [rendezvous] takes dashboard and dashboard_token_file', { timeout: 30_000 }, async () => {
  const tokenFile = join(dir, 'cfg-token');
  writeFileSync(tokenFile, 'config-dashboard-token-0123\n', { mode: 0o600 });
  const cfg = join(dir, 'burrow.toml');
  writeFileSync(cfg, `token = "tok"\n[rendezvous]\nlisten = "127.0.0.1:0"\nudp_port = "off"\ndashboard = "0.0.0.0:0"\ndashboard_token_file = ${JSON.stringify(tokenFile)}\n`);
  const p = group.spawn('config', ['-c', cfg]);
  const ev = await p.waitEvent('dashboard-listening');
  const port = Number(/:(\d+)\/$/.exec(String(ev['dashboard']))?.[1]);
  const ok = await fetch(`http://127.0.0.1:${port}/api/snapshot`, { headers: { authorization: 'Bearer config-dashboard-token-0123' } });
  assert.equal(ok.status, 200);
});

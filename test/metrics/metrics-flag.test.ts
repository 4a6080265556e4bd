/** --metrics and the config file's `metrics` key: bad addresses are clear usage errors; one endpoint serves every role a file runs. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, freePort } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';
import { metricsUrl, parseScrape, promtoolCheck, promtoolMissing, scrape, total } from './scrape.js';

const group = new ProcessGroup();
const targets: Target[] = [];
const dir = mkdtempSync(join(tmpdir(), 'burrow-metrics-'));

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
  rmSync(dir, { recursive: true, force: true });
});

test('--metrics that is not HOST:PORT is a usage error, before the role starts', async () => {
  const p = group.spawn('bad metrics', ['rendezvous', '--listen', '127.0.0.1:0', '--token', 't', '--metrics', 'nowhere']);
  assert.equal(await p.waitExit(), 2);
  assert.match(p.stderrText.join('\n'), /--metrics must look like HOST:PORT .*got "nowhere"/);
  assert.equal(p.count('listening'), 0, 'the rendezvous never started');
});

test('--metrics on an address in use says which and why, and the role does not start', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as import('node:net').AddressInfo).port;
  try {
    const rv = await freePort();
    const p = group.spawn('metrics in use', ['provide', '--server', `127.0.0.1:${rv}`, '--token', 't', '--name', 'n', '--secret', 's', '--to', '127.0.0.1:1', '--metrics', `127.0.0.1:${port}`]);
    assert.equal(await p.waitExit(), 2);
    assert.match(p.stderrText.join('\n'), new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    assert.equal(p.count('provider-started'), 0);
  } finally {
    taken.close();
  }
});

test('a config file with a malformed metrics key is refused with the key named', async () => {
  const file = join(dir, 'bad.toml');
  writeFileSync(file, 'metrics = "9100"\n[rendezvous]\nlisten = "127.0.0.1:0"\ntoken = "t"\n');
  const p = group.spawn('bad key', ['-c', file], { json: false });
  assert.equal(await p.waitExit(), 2);
  assert.match(p.stderrText.join('\n'), /metrics: must be HOST:PORT/);
});

test('metrics = "HOST:PORT" in a config file: one scrape shows the rendezvous, the provider and the visitor it runs', async () => {
  const target = await echoTarget();
  targets.push(target);
  const [rv, local] = [await freePort(), await freePort()];
  const file = join(dir, 'all.toml');
  writeFileSync(
    file,
    `server = "127.0.0.1:${rv}"
token = "cfg-token"
log_format = "json"
metrics = "127.0.0.1:0"

[rendezvous]
listen = "127.0.0.1:${rv}"

[[provide]]
name = "alpha"
secret = "alpha-secret"
to = "127.0.0.1:${target.port}"
mode = "stcp"

[[visit]]
name = "alpha"
secret = "alpha-secret"
listen = "127.0.0.1:${local}"
mode = "stcp"
`,
  );
  const p = group.spawn('config', ['-c', file], { json: false });
  const url = await metricsUrl(p);
  await p.waitFor((e) => e.event === 'session-up' && e.component === 'visitor', 'visitor session');
  const data = randomBytes(50_000);
  assert.equal((await exchange(local, data)).sha256, sha256(data));
  const text = await scrape(url);
  const s = parseScrape(text);
  assert.equal(total(s, 'burrow_rendezvous_peers'), 2);
  assert.equal(total(s, 'burrow_provider_sessions', { path: 'relay' }), 1);
  assert.equal(total(s, 'burrow_visitor_sessions', { path: 'relay' }), 1);
  assert.ok((total(s, 'burrow_visitor_bytes_total', { direction: 'sent' }) ?? 0) >= data.length);
  // The process's metrics once, not once per role.
  assert.equal(s.filter((x) => x.name === 'process_start_time_seconds').length, 1);
  if (promtoolMissing() === null) {
    const r = promtoolCheck(text);
    assert.equal(r.output.trim(), '', r.output);
    assert.equal(r.status, 0);
  }
  p.kill('SIGTERM');
  assert.equal(await p.waitExit(), 0);
  await assert.rejects(scrape(url), 'the endpoint closed with the process');
});

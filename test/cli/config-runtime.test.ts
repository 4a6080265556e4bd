/**
 * ConfigRuntime in-process (visitors on loopback, against a rendezvous port
 * nobody listens on: they keep trying in the background): reloads run one
 * at a time and later requests join the one waiting; a bad file changes
 * nothing; after stop, a reload is refused and nothing runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigRuntime } from '../../cli/config-runtime.js';
import type { Inspectable } from '../../cli/admin.js';
import { loadConfig } from '../../cli/config.js';
import { Logger } from '../../src/log/logger.js';
import { isBurrowError } from '../../src/errors.js';
import { freePort } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'burrow-config-runtime-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function text(rvPort: number, names: string[]): string {
  const head = `server = "127.0.0.1:${rvPort}"\ntoken = "t"\nportmap = false\n`;
  return head + names.map((n) => `\n[[visit]]\nname = "${n}"\nsecret = "s"\nlisten = "127.0.0.1:0"\nmode = "stcp"\n`).join('');
}

test('reloads run one at a time, later requests join the waiting one; a bad file changes nothing; stop refuses later reloads', { timeout: 30_000 }, async () => {
  const rvPort = await freePort();
  const file = join(dir, 'r.toml');
  writeFileSync(file, text(rvPort, ['a']));
  const lines: string[] = [];
  const log = new Logger({ format: 'json', sink: { write: (l) => void lines.push(l) } });
  const peers: Inspectable[] = [];
  const rt = new ConfigRuntime({ path: file, startup: loadConfig(file), log, onFatal: () => assert.fail('no fatal expected'), metrics: undefined, peers });
  // Whatever fails, nothing keeps trying in the background after the test.
  after(() => rt.stop());
  await rt.start();
  assert.deepEqual(rt.running, ['visit a']);

  writeFileSync(file, text(rvPort, ['a', 'b']));
  const first = rt.reload();
  assert.equal(rt.reload(), first, 'asked for twice before it began: one reload');
  await null; // one microtask: the first has begun (it waits for its visitor to listen)
  const second = rt.reload();
  const third = rt.reload();
  assert.notEqual(second, first, 'asked for while one runs: a second one, after it');
  assert.equal(third, second, 'a request while one waits joins it');
  const [r1, r2] = await Promise.all([first, second]);
  assert.deepEqual([r1.started, r1.unchanged], [['visit b'], ['visit a']]);
  assert.deepEqual([r2.started, r2.unchanged], [[], ['visit a', 'visit b']], 'the second ran after the first: b was not started twice');
  assert.equal(peers.length, 2, 'the admin list holds exactly the running entries');
  assert.deepEqual(peers.map((p) => p.status().services), [['a'], ['b']]);

  writeFileSync(file, 'server = [\n');
  await assert.rejects(rt.reload(), (e: unknown) => isBurrowError(e, 'ERR_CONFIG') && /not valid TOML/.test(e.message));
  assert.deepEqual(rt.running, ['visit a', 'visit b']);
  assert.ok(lines.some((l) => l.includes('"reload-failed"')));

  writeFileSync(file, text(rvPort, ['b']));
  const removed = await rt.reload();
  assert.deepEqual(removed.stopped, ['visit a']);
  assert.deepEqual(peers.map((p) => p.status().services), [['b']]);

  await rt.stop();
  assert.deepEqual(rt.running, []);
  assert.equal(peers.length, 0);
  await assert.rejects(rt.reload(), /stopping/);
});

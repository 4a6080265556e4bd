/**
 * What the rendezvous sees: a marker sent through the tunnel, the service
 * secret and the token never appear in any byte it receives or sends.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, startLab } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';

/** These tests are about the relay path (issue 3): stcp keeps every byte on it. */
const STCP = ['--mode', 'stcp'];

const group = new ProcessGroup();
const targets: Target[] = [];
const dir = mkdtempSync(join(tmpdir(), 'burrow-tap-'));

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
  rmSync(dir, { recursive: true, force: true });
});

test('a marker sent through the tunnel never appears in what the rendezvous receives or sends', async () => {
  const tap = join(dir, 'rendezvous.tap');
  const lab = await startLab(group, { rendezvousArgs: ['--tap', tap], peerArgs: STCP });
  const target = await echoTarget();
  targets.push(target);
  const secret = 'service-secret-' + randomBytes(8).toString('hex');
  await lab.provide('vault', secret, target.port);
  const { port } = await lab.visit('vault', secret);

  const marker = Buffer.from('BURROW-PLAINTEXT-MARKER-' + randomBytes(8).toString('hex'));
  // The marker many times over, at every alignment, both ways (the target echoes it back).
  const payload = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.concat([randomBytes(i % 17), marker])));
  const r = await exchange(port, payload);
  assert.equal(r.sha256, sha256(payload), 'the marker made it through, both ways');

  lab.rendezvous.kill('SIGTERM');
  assert.equal(await lab.rendezvous.waitExit(), 0, 'the rendezvous stops cleanly on SIGTERM');
  const seen = readFileSync(tap);
  assert.ok(seen.length > 2 * payload.length, `the tap saw the relayed traffic (${seen.length} bytes)`);
  assert.equal(seen.indexOf(marker), -1, 'the marker must never be visible to the rendezvous');
  assert.equal(seen.indexOf(Buffer.from(secret)), -1, 'the service secret never reaches the rendezvous');
  assert.equal(seen.indexOf(Buffer.from(lab.token)), -1, 'the token is proven, never sent');
  // Control frames are visible (they are meant to be), so the tap is not just empty noise.
  assert.notEqual(seen.indexOf(Buffer.from('"type":"challenge"')), -1);
});

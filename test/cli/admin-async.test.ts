/**
 * The admin socket's answers that take time (a reload): answered after the
 * idle timeout has passed, a BurrowError keeps its code, one request per
 * connection (a second line does not run the handler again).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_LIMITS, AdminServer, type AdminRequest } from '../../peer/admin-server.js';
import { BurrowError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'burrow-admin-async-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Sends `text`, then `later` (if any) a moment after; the answer line parsed. */
async function ask(path: string, text: string, later?: string): Promise<unknown> {
  const s = createConnection(path);
  let answer = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (answer += d));
  s.write(text);
  if (later !== undefined) setTimeout(() => s.write(later), 200);
  await once(s, 'end');
  s.destroy();
  return JSON.parse(answer);
}

test('a slow answer outlasts the idle timeout; a rejection keeps its code; one request per connection', { timeout: ADMIN_LIMITS.timeoutMs + 20_000 }, async () => {
  const calls: AdminRequest['cmd'][] = [];
  const server = await AdminServer.start(join(dir, 'a.sock'), async (req) => {
    calls.push(req.cmd);
    if (req.cmd === 'status') return { fast: true };
    await new Promise((r) => setTimeout(r, ADMIN_LIMITS.timeoutMs + 500));
    return { slow: true };
  });
  try {
    // A second line while the first is being answered is ignored, not a second request.
    assert.deepEqual(await ask(server.path, '{"cmd":"reload"}\n', '{"cmd":"status"}\n'), { ok: true, status: { slow: true } });
    assert.deepEqual(await ask(server.path, '{"cmd":"status"}\n{"cmd":"reload"}\n'), { ok: true, status: { fast: true } });
    assert.deepEqual(calls, ['reload', 'status'], 'only the first line of each connection ran');
  } finally {
    await server.stop();
  }

  const refusing = await AdminServer.start(join(dir, 'b.sock'), (req) => {
    if (req.cmd === 'reload') return Promise.reject(new BurrowError('ERR_CONFIG', 'x.toml is not valid TOML'));
    throw new Error('boom');
  });
  try {
    assert.deepEqual(await ask(refusing.path, '{"cmd":"reload"}\n'), { ok: false, error: { code: 'ERR_CONFIG', message: 'x.toml is not valid TOML' } });
    assert.deepEqual(await ask(refusing.path, '{"cmd":"status"}\n'), { ok: false, error: { code: 'ERR_INTERNAL', message: 'boom' } });
  } finally {
    await refusing.stop();
  }
});

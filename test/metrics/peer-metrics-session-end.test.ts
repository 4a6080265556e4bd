/**
 * A peer's counters never go backwards: when a session ends and the visitor
 * sets up the next one, the bytes it carried stay in bytes_total, and the
 * sessions gauge follows the live session only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { peerRegistry } from '../../peer/metrics.js';
import { exchange, sha256 } from '../support/client.js';
import { echoServer, startLoopbackLab, startProvider, startVisitor, waitFor } from '../peer/harness.js';
import { parseScrape, total } from './scrape.js';

test('bytes of a closed session stay counted; the next session is counted as opened', { timeout: 60_000 }, async () => {
  const lab = await startLoopbackLab();
  const target = await echoServer();
  const provider = startProvider(lab, target.port, { mode: 'stcp' });
  const { visitor, port } = await startVisitor(lab, { mode: 'stcp' });
  try {
    const registry = peerRegistry('visitor', [visitor]);
    const read = async () => parseScrape(await registry.metrics());
    const N = 100_000;
    const data = randomBytes(N);
    assert.equal((await exchange(port, data)).sha256, sha256(data));
    const before = await read();
    const sent = total(before, 'burrow_visitor_bytes_total', { direction: 'sent' }) ?? 0;
    assert.ok(sent >= N, `sent ${sent}`);
    assert.equal(total(before, 'burrow_visitor_sessions', { path: 'relay' }), 1);
    assert.equal(total(before, 'burrow_visitor_sessions_opened_total'), 1);

    const first = visitor.currentSession;
    assert.ok(first !== null);
    first.close();
    await waitFor(() => visitor.currentSession !== null && visitor.currentSession !== first && visitor.currentSession.currentPath !== null, 15_000, 'the next session');
    const after = await read();
    assert.equal(total(after, 'burrow_visitor_sessions_opened_total'), 2);
    assert.equal(total(after, 'burrow_visitor_sessions'), 1, 'only the live session');
    assert.ok((total(after, 'burrow_visitor_bytes_total', { direction: 'sent' }) ?? 0) >= sent, 'bytes_total did not go backwards');
  } finally {
    visitor.stop();
    provider.stop();
    target.close();
    await lab.close();
  }
});

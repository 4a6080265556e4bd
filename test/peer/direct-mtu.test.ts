/**
 * Two peers on one host: the direct path they lock never leaves the host, so
 * it offers the on-host packet size (the session takes its KCP MTU from it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_PACKET_MTU } from '../../src/direct/udp-path.js';
import { echoServer, startLoopbackLab, startProvider, startVisitor, waitFor } from './harness.js';

test('a direct path between two peers on this host reports the on-host MTU', { timeout: 30_000 }, async () => {
  const lab = await startLoopbackLab();
  const echo = await echoServer();
  const provider = startProvider(lab, echo.port);
  const { visitor } = await startVisitor(lab);
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'direct-up'), 20_000, 'direct path');
    const path = visitor.currentSession?.currentPath;
    assert.equal(path?.kind, 'direct');
    assert.equal(path?.mtu, LOCAL_PACKET_MTU, `${path?.label ?? ''} stays on this host`);
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
    echo.close();
  }
});

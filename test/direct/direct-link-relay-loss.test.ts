/**
 * DirectLink when the relay closes (two real DirectLinks on the in-process
 * network, fake clock): on the direct path the session carries on; if that
 * path then dies and no new one can be punched, the session is given up
 * 20 s later instead of lingering without any path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIRECT_TIMERS } from '../../src/direct/index.js';
import { errnoError, startLab } from './direct-link-harness.js';

test('relay closed while direct, then the path fails and the control channel is down: give up 20 s after the loss', async () => {
  const lab = startLab(21);
  try {
    lab.initiator.link.start();
    const s = lab.topo.scheduler;
    await s.runUntil(() => lab.events('initiator', 'direct-up').length === 1, { maxTime: 10_000 });
    const gaveUp: { at: number; reason: string }[] = [];
    lab.initiator.link.relayLost((reason) => gaveUp.push({ at: s.now(), reason }));
    assert.equal(lab.events('initiator', 'relay-lost')[0]?.fields['reason'], 'relay link closed; the session stays on the direct path');
    await s.advance(60_000);
    assert.equal(gaveUp.length, 0, 'on the direct path the relay is not missed');
    lab.broker.controlUp = false;
    const lostAt = s.now();
    lab.initiator.sockets.find((x) => !x.closed)!.raise(errnoError('EBADF', 'bad file descriptor'));
    assert.equal(lab.events('initiator', 'direct-lost')[0]?.fields['fallback'], 'none');
    await s.advance(DIRECT_TIMERS.relayLostGiveUpMs + 1000);
    assert.equal(gaveUp.length, 1);
    assert.equal(gaveUp[0]!.at, lostAt + DIRECT_TIMERS.relayLostGiveUpMs);
    assert.equal(gaveUp[0]!.reason, 'no path to the peer for 20 s (relay closed, no direct path)');
  } finally {
    lab.close();
  }
});

test('relay closed before any direct path: punch at once; a lock within 20 s keeps the session', async () => {
  const lab = startLab(22, { startDelayMs: 60_000 });
  try {
    const s = lab.topo.scheduler;
    lab.initiator.link.start(); // waits 60 s before its first attempt
    await s.advance(1000);
    assert.equal(lab.events('initiator', 'punch-start').length, 0);
    const gaveUp: string[] = [];
    lab.initiator.link.relayLost((reason) => gaveUp.push(reason));
    // Losing the relay is reason enough to punch now.
    await s.runUntil(() => lab.events('initiator', 'direct-up').length === 1, { maxTime: s.now() + 10_000 });
    assert.equal(lab.events('initiator', 'direct-up').length, 1);
    assert.deepEqual(lab.initiator.paths.at(-1), { kind: 'direct', previousDied: true });
    await s.advance(60_000);
    assert.deepEqual(gaveUp, []);
  } finally {
    lab.close();
  }
});

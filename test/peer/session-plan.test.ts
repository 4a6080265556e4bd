/** Relay vs direct, decided once for both roles; one default per option. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSession } from '../../peer/session-plan.js';
import { PEER_DEFAULTS } from '../../peer/peer-defaults.js';
import { Visitor } from '../../peer/visitor.js';
import { startLoopbackLab } from './harness.js';

test('the initiator: xtcp punches and (unless --relay never) relays first; stcp relays only', () => {
  assert.deepEqual(planSession('initiator', { mode: 'xtcp', relay: 'fallback' }, true), {
    direct: true,
    relay: true,
    relayFirst: true,
    endWhenPunchFails: true,
    declineDirect: null,
  });
  const never = planSession('initiator', { mode: 'xtcp', relay: 'never' }, true);
  assert.equal(never.relay, false);
  assert.equal(never.direct, true);
  const stcp = planSession('initiator', { mode: 'stcp', relay: 'never' }, true);
  assert.deepEqual([stcp.direct, stcp.relay], [false, true], '--relay never means nothing without a direct side');
});

test('the responder: punches only when asked and allowed, starts its direct side before the relay, always joins the relay', () => {
  const asked = planSession('responder', { mode: 'xtcp', relay: 'fallback' }, true);
  assert.deepEqual(asked, { direct: true, relay: true, relayFirst: false, endWhenPunchFails: false, declineDirect: null });
  const notAsked = planSession('responder', { mode: 'xtcp', relay: 'fallback' }, false);
  assert.deepEqual([notAsked.direct, notAsked.relay, notAsked.relayFirst, notAsked.declineDirect], [false, true, true, null]);
  const refused = planSession('responder', { mode: 'stcp', relay: 'fallback' }, true);
  assert.equal(refused.direct, false);
  assert.match(refused.declineDirect ?? '', /relay only/);
});

test('a Visitor given no mode runs xtcp, like the Provider and the CLI', async () => {
  assert.equal(PEER_DEFAULTS.mode, 'xtcp');
  const lab = await startLoopbackLab();
  const visitor = new Visitor({
    server: lab.server,
    token: 'tok',
    service: 'svc',
    secret: 'sec',
    listen: { host: '127.0.0.1', port: 0 },
    logger: lab.logger('visitor'),
  });
  try {
    await visitor.start();
    const listening = lab.logs.find((l) => l.component === 'visitor' && l.event === 'listening');
    assert.equal(listening?.fields['mode'], 'xtcp');
  } finally {
    visitor.stop();
    await lab.close();
  }
});

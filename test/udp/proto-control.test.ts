/**
 * A service's protocol on the control channel: the visitor's connect says
 * 'udp' (and nothing for tcp, as before UDP services), the rendezvous hands
 * it on in 'incoming', a refusal for a mismatch has its own code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RENDEZVOUS_LIMITS } from '../../rendezvous/limits.js';
import { SessionSetup, type SetupOutput } from '../../rendezvous/session-setup.js';
import { ControlErrorCode, parseClientMessage, parseServerMessage } from '../../src/control/index.js';

const HELLO = Buffer.alloc(8, 1).toString('base64');
const ID = 'ab'.repeat(16);

function incomingTo(out: SetupOutput[], to: string): Record<string, unknown> {
  const m = out.find((o) => o.kind === 'send' && o.to === to && o.message.type === 'incoming');
  assert.ok(m && m.kind === 'send', JSON.stringify(out));
  return m.message as unknown as Record<string, unknown>;
}

describe('proto on the control channel', () => {
  it('connect and incoming take proto "udp" or "tcp", or none (a peer from before UDP services); nothing else', () => {
    for (const proto of [undefined, 'tcp', 'udp']) {
      const extra = proto === undefined ? {} : { proto };
      assert.equal(parseClientMessage({ type: 'connect', connId: ID, service: 'dns', hello: HELLO, ...extra }).ok, true);
      assert.equal(parseServerMessage({ type: 'incoming', connId: ID, service: 'dns', hello: HELLO, ...extra }).ok, true);
    }
    assert.equal(parseClientMessage({ type: 'connect', connId: ID, service: 'dns', hello: HELLO, proto: 'sctp' }).ok, false);
    assert.equal(parseServerMessage({ type: 'incoming', connId: ID, service: 'dns', hello: HELLO, proto: 1 }).ok, false);
    assert.equal(parseClientMessage({ type: 'refuse', connId: ID, code: ControlErrorCode.PROTO_MISMATCH, message: 'x' }).ok, true);
    assert.equal(parseServerMessage({ type: 'connect-failed', connId: ID, code: 'PROTO_MISMATCH', message: 'x' }).ok, true);
  });

  it('the rendezvous passes the visitor\'s proto to the provider, and adds none when the visitor gave none', () => {
    const s = new SessionSetup(DEFAULT_RENDEZVOUS_LIMITS, { bytes: (n: number) => Buffer.alloc(n, 7), next: () => 0.5 });
    s.peerJoined('P', 'provider');
    s.peerJoined('V', 'visitor');
    s.handle('P', { type: 'register', services: ['dns'] }, 0);
    s.takeOutputs();
    s.handle('V', { type: 'connect', connId: ID, service: 'dns', hello: HELLO, proto: 'udp' }, 0);
    assert.equal(incomingTo(s.takeOutputs(), 'P')['proto'], 'udp');
    const id2 = 'cd'.repeat(16);
    s.handle('V', { type: 'connect', connId: id2, service: 'dns', hello: HELLO }, 0);
    assert.equal('proto' in incomingTo(s.takeOutputs(), 'P'), false, 'the message an old provider knows, unchanged');
    // The provider's refusal reaches the visitor with its code and words.
    s.handle('P', { type: 'refuse', connId: ID, code: ControlErrorCode.PROTO_MISMATCH, message: '"dns" is a TCP service' }, 0);
    const failed = s.takeOutputs().find((o) => o.kind === 'send' && o.to === 'V');
    assert.ok(failed && failed.kind === 'send');
    assert.deepEqual(failed.message, { type: 'connect-failed', connId: ID, code: 'PROTO_MISMATCH', message: '"dns" is a TCP service' });
  });
});

/**
 * withRejoinTicket: a peer's offers carry the session's ticket only once its
 * control connection is not the one the session was set up on, so a peer
 * that never reconnected sends exactly what older rendezvous servers accept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withRejoinTicket } from '../../peer/direct/offer.js';
import { parseClientMessage, type ClientMessage } from '../../src/control/messages.js';

const TICKET = Buffer.alloc(32, 9).toString('base64');
const offer: ClientMessage = { type: 'offer', connId: 'b'.repeat(32), attempt: 4, candidates: [{ kind: 'srflx', address: '198.51.100.4', port: 4000 }] };

describe('withRejoinTicket', () => {
  it('leaves an offer on the setup connection exactly as it was (no ticket key)', () => {
    const m = withRejoinTicket(offer, TICKET, false);
    assert.deepEqual(m, offer);
    assert.equal(Object.hasOwn(m, 'ticket'), false);
  });

  it('adds the ticket to an offer after a reconnect, and the result is a valid offer', () => {
    const m = withRejoinTicket(offer, TICKET, true);
    assert.deepEqual(m, { ...offer, ticket: TICKET });
    const parsed = parseClientMessage(JSON.parse(JSON.stringify(m)));
    assert.ok(parsed.ok && parsed.message.type === 'offer' && parsed.message.ticket === TICKET);
    assert.equal(Object.hasOwn(offer, 'ticket'), false, 'the original is not changed');
  });

  it('never adds it to anything but an offer', () => {
    const ping: ClientMessage = { type: 'ping', t: 1 };
    assert.deepEqual(withRejoinTicket(ping, TICKET, true), ping);
  });
});

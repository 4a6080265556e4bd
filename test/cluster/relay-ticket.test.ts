import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_TICKET_LIFETIME_MS, SpentTickets, signRelayTicket, verifyRelayTicket } from '../../rendezvous/cluster/relay-ticket.js';
import { ClusterSecret } from '../../rendezvous/cluster/secret.js';

const secret = new ClusterSecret('ticket-test-secret-0123456789');
const CONN = '0123456789abcdef0123456789abcdef';
const NOW = 1_800_000_000_000;
const nonce = Buffer.from('0102030405060708', 'hex');
const claims = { connId: CONN, side: 'visitor' as const, node: 'node-b', expiresAt: NOW + 10_000 };
const expect = { node: 'node-b', connId: CONN, side: 'visitor' as const };

describe('relay tickets across nodes', () => {
  it('a ticket verifies at its node, for its session and side, until it expires', () => {
    const t = signRelayTicket(secret, claims, nonce);
    assert.deepEqual(verifyRelayTicket(secret, t, expect, NOW), { ok: true, nonce: '0102030405060708', expiresAt: NOW + 10_000 });
    assert.equal(verifyRelayTicket(secret, t, expect, NOW + 9_999).ok, true);
    assert.deepEqual(verifyRelayTicket(secret, t, expect, NOW + 10_000), { ok: false, reason: 'expired' });
  });

  it('is refused at another node, for another session or side, with another secret, or changed in any byte', () => {
    const t = signRelayTicket(secret, claims, nonce);
    assert.deepEqual(verifyRelayTicket(secret, t, { ...expect, node: 'node-c' }, NOW), { ok: false, reason: 'wrong-node' });
    assert.deepEqual(verifyRelayTicket(secret, t, { ...expect, connId: CONN.replace('0', '1') }, NOW), { ok: false, reason: 'wrong-session' });
    assert.deepEqual(verifyRelayTicket(secret, t, { ...expect, side: 'provider' }, NOW), { ok: false, reason: 'wrong-session' });
    assert.deepEqual(verifyRelayTicket(new ClusterSecret('some-other-secret-0123456'), t, expect, NOW), { ok: false, reason: 'bad-mac' });
    const raw = Buffer.from(t, 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const bad = Buffer.from(raw);
      bad[i] = (bad[i] ?? 0) ^ 0x40;
      assert.equal(verifyRelayTicket(secret, bad.toString('base64url'), expect, NOW).ok, false, `byte ${i}`);
    }
  });

  it('a well-signed ticket that lives too long is refused (a ticket is for one redirect, now)', () => {
    const t = signRelayTicket(secret, { ...claims, expiresAt: NOW + MAX_TICKET_LIFETIME_MS + 1 }, nonce);
    assert.deepEqual(verifyRelayTicket(secret, t, expect, NOW), { ok: false, reason: 'too-long-lived' });
  });

  it('admits one connection: a spent ticket is refused; the spent set is bounded and fails closed', () => {
    const spent = new SpentTickets(2);
    const v = (n: number) => {
      const r = verifyRelayTicket(secret, signRelayTicket(secret, claims, Buffer.alloc(8, n)), expect, NOW);
      assert.ok(r.ok);
      return r;
    };
    assert.equal(spent.spend(v(1), NOW), true);
    assert.equal(spent.spend(v(1), NOW), false, 'second use');
    assert.equal(spent.spend(v(2), NOW), true);
    assert.equal(spent.spend(v(3), NOW), false, 'full of unexpired tickets: refuse rather than forget one');
    assert.equal(spent.spend(v(3), NOW + 10_000), true, 'expired ones make room');
    assert.equal(spent.size, 1);
  });

  it('refuses bad arguments when signing, and never throws on any string presented', () => {
    assert.throws(() => signRelayTicket(secret, { ...claims, connId: 'xyz' }, nonce), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => signRelayTicket(secret, { ...claims, node: 'bad node' }, nonce), { code: 'ERR_INVALID_ARGUMENT' });
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        assert.equal(verifyRelayTicket(secret, s, expect, NOW).ok, false);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 30, maxLength: 200 }), (b) => {
        assert.equal(verifyRelayTicket(secret, Buffer.from(b).toString('base64url'), expect, NOW).ok, false);
      }),
      { numRuns: 500 },
    );
  });
});

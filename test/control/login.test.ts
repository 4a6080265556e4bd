import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NONCE_LENGTH, clientProof, newNonce, proofsEqual, serverProof } from '../../src/control/login.js';

const SN = Buffer.alloc(32, 0x11);
const CN = Buffer.alloc(32, 0x22);
const TOKEN = 'correct horse battery staple';

describe('login proofs', () => {
  it('are 32-byte HMAC-SHA256 values over the documented v1 label, server nonce, client nonce', () => {
    // Pins the wire construction: both ends of a mixed-version deployment must agree on it.
    const expected = createHmac('sha256', TOKEN).update('burrow login v1 client provider\0').update(SN).update(CN).digest();
    const p = clientProof(TOKEN, SN, CN, 'provider');
    assert.equal(p.length, 32);
    assert.equal(p.toString('hex'), expected.toString('hex'));
    const s = createHmac('sha256', TOKEN).update('burrow login v1 server visitor\0').update(SN).update(CN).digest();
    assert.equal(serverProof(TOKEN, SN, CN, 'visitor').toString('hex'), s.toString('hex'));
  });

  it('are deterministic', () => {
    assert.ok(clientProof(TOKEN, SN, CN, 'visitor').equals(clientProof(TOKEN, SN, CN, 'visitor')));
    assert.ok(serverProof(TOKEN, SN, CN, 'visitor').equals(serverProof(TOKEN, SN, CN, 'visitor')));
  });

  it('differ between the client and the server label (a client proof cannot be reflected)', () => {
    for (const role of ['provider', 'visitor']) {
      assert.ok(!clientProof(TOKEN, SN, CN, role).equals(serverProof(TOKEN, SN, CN, role)));
    }
  });

  it('differ by role', () => {
    assert.ok(!clientProof(TOKEN, SN, CN, 'provider').equals(clientProof(TOKEN, SN, CN, 'visitor')));
    assert.ok(!serverProof(TOKEN, SN, CN, 'provider').equals(serverProof(TOKEN, SN, CN, 'visitor')));
  });

  it('differ when the nonces are swapped', () => {
    assert.ok(!clientProof(TOKEN, SN, CN, 'provider').equals(clientProof(TOKEN, CN, SN, 'provider')));
  });

  it('property: change the token, either nonce, the role or the label and the proof changes', () => {
    const nonce = fc.uint8Array({ minLength: NONCE_LENGTH, maxLength: NONCE_LENGTH });
    const role = fc.constantFrom('provider', 'visitor');
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), nonce, nonce, nonce, role, (t1, t2, sn, cn, other, r) => {
        const base = clientProof(t1, sn, cn, r);
        if (t1 !== t2) assert.ok(!base.equals(clientProof(t2, sn, cn, r)), 'token');
        if (!Buffer.from(other).equals(Buffer.from(sn))) assert.ok(!base.equals(clientProof(t1, other, cn, r)), 'server nonce');
        if (!Buffer.from(other).equals(Buffer.from(cn))) assert.ok(!base.equals(clientProof(t1, sn, other, r)), 'client nonce');
        const otherRole = r === 'provider' ? 'visitor' : 'provider';
        assert.ok(!base.equals(clientProof(t1, sn, cn, otherRole)), 'role');
        assert.ok(!base.equals(serverProof(t1, sn, cn, r)), 'label');
      }),
      { numRuns: 200 },
    );
  });
});

describe('proofsEqual', () => {
  it('is true for equal bytes and false when one bit differs', () => {
    const a = clientProof(TOKEN, SN, CN, 'provider');
    assert.equal(proofsEqual(a, Buffer.from(a)), true);
    for (const i of [0, 15, 31]) {
      const b = Buffer.from(a);
      b[i]! ^= 1;
      assert.equal(proofsEqual(a, b), false);
    }
  });

  it('is false (and does not throw) for different lengths', () => {
    const a = clientProof(TOKEN, SN, CN, 'provider');
    assert.equal(proofsEqual(a, a.subarray(0, 31)), false);
    assert.equal(proofsEqual(a.subarray(0, 31), a), false);
    assert.equal(proofsEqual(a, Buffer.concat([a, Buffer.alloc(1)])), false);
    assert.equal(proofsEqual(a, new Uint8Array(0)), false);
  });

  it('accepts plain Uint8Arrays', () => {
    const a = clientProof(TOKEN, SN, CN, 'visitor');
    assert.equal(proofsEqual(new Uint8Array(a), new Uint8Array(a)), true);
  });
});

describe('newNonce', () => {
  it('returns NONCE_LENGTH fresh random bytes', () => {
    assert.equal(NONCE_LENGTH, 32);
    const a = newNonce();
    const b = newNonce();
    assert.equal(a.length, 32);
    assert.ok(!a.equals(b));
  });
});

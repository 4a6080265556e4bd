import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketOpener, PacketSealer, deriveSessionKeys } from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';
import { key } from './helpers.js';

describe('deriveSessionKeys', () => {
  it("gives the initiator's send key to the responder as its receive key, and vice versa", () => {
    const secret = key();
    const initiator = deriveSessionKeys(secret, 'initiator');
    const responder = deriveSessionKeys(secret, 'responder');
    assert.deepEqual(initiator.sendKey, responder.recvKey);
    assert.deepEqual(initiator.recvKey, responder.sendKey);
    assert.notDeepEqual(initiator.sendKey, initiator.recvKey);
    assert.equal(initiator.sendKey.length, 32);
    assert.equal(initiator.recvKey.length, 32);
  });

  it('is deterministic and neither direction key equals the session secret', () => {
    const secret = key(7);
    const a = deriveSessionKeys(secret, 'initiator', 'ctx');
    const b = deriveSessionKeys(secret, 'initiator', 'ctx');
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.sendKey, secret);
    assert.notDeepEqual(a.recvKey, secret);
  });

  it('binds the keys to the context string and the secret', () => {
    const secret = key();
    const plain = deriveSessionKeys(secret, 'initiator');
    const withCtx = deriveSessionKeys(secret, 'initiator', 'session-1');
    const otherCtx = deriveSessionKeys(secret, 'initiator', 'session-2');
    const otherSecret = deriveSessionKeys(key(), 'initiator');
    assert.notDeepEqual(plain.sendKey, withCtx.sendKey);
    assert.notDeepEqual(withCtx.sendKey, otherCtx.sendKey);
    assert.notDeepEqual(plain.sendKey, otherSecret.sendKey);
  });

  it('carries packets both ways between initiator and responder', () => {
    const secret = key();
    const i = deriveSessionKeys(secret, 'initiator');
    const r = deriveSessionKeys(secret, 'responder');
    const toResponder = new PacketSealer(i.sendKey).seal(Buffer.from('ping'));
    const toInitiator = new PacketSealer(r.sendKey).seal(Buffer.from('pong'));
    assert.equal(new PacketOpener(r.recvKey).open(toResponder)?.toString(), 'ping');
    assert.equal(new PacketOpener(i.recvKey).open(toInitiator)?.toString(), 'pong');
    // A packet reflected back to its sender does not open: the directions differ.
    assert.equal(new PacketOpener(i.recvKey).open(toResponder), null);
    assert.equal(new PacketOpener(r.recvKey).open(toInitiator), null);
  });

  it('rejects secrets that are not 32 bytes with ERR_CRYPTO_KEY', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      assert.throws(
        () => deriveSessionKeys(new Uint8Array(n), 'initiator'),
        (err: unknown) => isBurrowError(err, 'ERR_CRYPTO_KEY'),
      );
    }
  });

  it('rejects an unknown role', () => {
    assert.throws(
      () => deriveSessionKeys(key(), 'observer' as 'initiator'),
      (err: unknown) => isBurrowError(err, 'ERR_INVALID_ARGUMENT'),
    );
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AeadAlgorithm } from '../../src/crypto/index.js';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { isBurrowError, type BurrowError } from '../../src/errors.js';
import {
  HELLO_LENGTH,
  HandshakeInitiator,
  HandshakeResponder,
  LEGACY_HELLO_LENGTH,
  cpaceFinish,
  cpaceShare,
  LEGACY_REPLY_LENGTH,
  REPLY_LENGTH,
  type HandshakeResult,
} from '../../src/handshake/index.js';

interface Outcome {
  visitor: HandshakeResult | BurrowError;
  provider: HandshakeResult | BurrowError;
}

function run(visitorAead: AeadAlgorithm, providerAead: AeadAlgorithm, edit: { hello?: (b: Buffer) => Buffer; reply?: (b: Buffer) => Buffer } = {}): Outcome {
  const v = new HandshakeInitiator({ secret: 's', service: 'nas', aead: visitorAead });
  const p = new HandshakeResponder({ secret: 's', service: 'nas', aead: providerAead });
  const reply = p.onHello((edit.hello ?? ((b) => b))(v.hello()));
  const { confirm, result } = v.onReply((edit.reply ?? ((b) => b))(reply));
  let provider: HandshakeResult | BurrowError;
  try {
    provider = p.onConfirm(confirm);
  } catch (err) {
    provider = err as BurrowError;
  }
  return { visitor: result, provider };
}

function flip(at: number, bits: number): (b: Buffer) => Buffer {
  return (b) => {
    const c = Buffer.from(b);
    c[at] = (c[at] ?? 0) ^ bits;
    return c;
  };
}

test('AES-256-GCM only when both sides have it; otherwise ChaCha20-Poly1305, on both sides', () => {
  const table: Array<[AeadAlgorithm, AeadAlgorithm, AeadAlgorithm]> = [
    ['aes-256-gcm', 'aes-256-gcm', 'aes-256-gcm'],
    ['aes-256-gcm', 'chacha20-poly1305', 'chacha20-poly1305'],
    ['chacha20-poly1305', 'aes-256-gcm', 'chacha20-poly1305'],
    ['chacha20-poly1305', 'chacha20-poly1305', 'chacha20-poly1305'],
  ];
  for (const [visitor, provider, expected] of table) {
    const r = run(visitor, provider);
    assert.ok(!(r.visitor instanceof Error) && !(r.provider instanceof Error), `${visitor} x ${provider}`);
    assert.equal(r.visitor.aead, expected, `visitor ${visitor} x provider ${provider}`);
    assert.equal(r.provider.aead, expected, `visitor ${visitor} x provider ${provider}`);
    assert.deepEqual(r.visitor.sessionKey, r.provider.sessionKey);
  }
});

test('the hello carries the offer byte and the reply the choice byte', () => {
  const v = new HandshakeInitiator({ secret: 's', service: 'nas', aead: 'aes-256-gcm' });
  const hello = v.hello();
  assert.equal(hello.length, HELLO_LENGTH);
  assert.equal(hello[LEGACY_HELLO_LENGTH], 1);
  const reply = new HandshakeResponder({ secret: 's', service: 'nas', aead: 'aes-256-gcm' }).onHello(hello);
  assert.equal(reply.length, REPLY_LENGTH);
  assert.equal(reply[LEGACY_REPLY_LENGTH], 1);
});

test('a relay that edits the offer fails the handshake on both sides', () => {
  // Downgrade (AES offered, relay clears it) and upgrade (relay sets it).
  for (const [visitor, provider] of [
    ['aes-256-gcm', 'aes-256-gcm'],
    ['chacha20-poly1305', 'aes-256-gcm'],
  ] as const) {
    const r = run(visitor, provider, { hello: flip(LEGACY_HELLO_LENGTH, 1) });
    assert.ok(isBurrowError(r.visitor, 'ERR_HANDSHAKE_SECRET_MISMATCH'), `${visitor}: visitor refuses`);
    assert.ok(isBurrowError(r.provider, 'ERR_HANDSHAKE_SECRET_MISMATCH'), `${visitor}: provider refuses`);
  }
});

test('a relay that edits the choice fails the handshake on both sides', () => {
  for (const [visitor, provider] of [
    ['aes-256-gcm', 'aes-256-gcm'],
    ['aes-256-gcm', 'chacha20-poly1305'],
  ] as const) {
    const r = run(visitor, provider, { reply: flip(LEGACY_REPLY_LENGTH, 1) });
    assert.ok(r.visitor instanceof Error, `${provider}: visitor refuses`);
    assert.ok(isBurrowError(r.provider, 'ERR_HANDSHAKE_SECRET_MISMATCH'), `${provider}: provider refuses`);
  }
});

test('a relay that strips the offer byte (a legacy hello) fails against a visitor that sent it', () => {
  const r = run('aes-256-gcm', 'aes-256-gcm', { hello: (b) => b.subarray(0, LEGACY_HELLO_LENGTH) });
  assert.ok(isBurrowError(r.visitor, 'ERR_HANDSHAKE_PROTOCOL'), 'a reply without a choice byte is refused');
  assert.ok(r.provider instanceof Error);
});

/** A visitor from before the negotiation, rebuilt from the protocol: 49-byte hello, MACs over sid | Ya | Yb. */
function legacyVisitor(secret: string, service: string) {
  const sid = randomBytes(16);
  const share = cpaceShare(Buffer.from(secret), Buffer.from(`burrow v1 service=${service}`), sid);
  const expand = (isk: Buffer, label: string) => Buffer.from(hkdfSync('sha256', isk, Buffer.alloc(0), Buffer.from(label), 32));
  return {
    hello: Buffer.concat([Buffer.from([1]), sid, share.point]),
    onReply(reply: Buffer) {
      assert.equal(reply.length, 64, 'an older visitor refuses any reply but 64 bytes');
      const yb = reply.subarray(0, 32);
      const isk = cpaceFinish(share, yb, sid, { initiatorPoint: share.point, responderPoint: yb });
      const mac = (who: string) => createHmac('sha256', expand(isk, `burrow confirm ${who}`)).update(sid).update(share.point).update(yb).digest();
      assert.deepEqual(reply.subarray(32), mac('responder'), 'the provider MACs the old transcript');
      return { confirm: mac('initiator'), sessionKey: expand(isk, 'burrow session key') };
    },
  };
}

test('a visitor from before the negotiation (no offer byte) still connects, with ChaCha20', () => {
  const old = legacyVisitor('s', 'nas');
  const p = new HandshakeResponder({ secret: 's', service: 'nas', aead: 'aes-256-gcm' });
  assert.equal(old.hello.length, LEGACY_HELLO_LENGTH);
  const { confirm, sessionKey } = old.onReply(p.onHello(old.hello));
  const result = p.onConfirm(confirm);
  assert.equal(result.aead, 'chacha20-poly1305');
  assert.deepEqual(result.sessionKey, sessionKey);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { isBurrowError, BurrowError } from '../../src/errors.js';
import { HandshakeInitiator, HandshakeResponder, cpaceFinish, cpaceGenerator, cpaceShare } from '../../src/handshake/index.js';

function run(visitorSecret: string, providerSecret: string, service = 'nas') {
  const v = new HandshakeInitiator({ secret: visitorSecret, service });
  const p = new HandshakeResponder({ secret: providerSecret, service });
  const reply = p.onHello(v.hello());
  const { confirm, result } = v.onReply(reply);
  let providerResult: Buffer | BurrowError;
  try {
    providerResult = p.onConfirm(confirm).sessionKey;
  } catch (err) {
    providerResult = err as BurrowError;
  }
  return { visitor: result, provider: providerResult };
}

test('matching secrets agree on one fresh 32-byte session key', () => {
  const a = run('correct horse', 'correct horse');
  const b = run('correct horse', 'correct horse');
  assert.ok(!(a.visitor instanceof Error) && !(a.provider instanceof Error));
  assert.equal(a.visitor.sessionKey.length, 32);
  assert.deepEqual(a.visitor.sessionKey, a.provider);
  assert.ok(!(b.visitor instanceof Error));
  assert.notDeepEqual(a.visitor.sessionKey, b.visitor.sessionKey, 'every session gets its own key');
});

test('a wrong secret is refused on both sides with a message that says so', () => {
  const r = run('correct horse', 'battery staple');
  assert.ok(isBurrowError(r.visitor, 'ERR_HANDSHAKE_SECRET_MISMATCH'));
  assert.match((r.visitor as BurrowError).message, /secret does not match/);
  assert.ok(isBurrowError(r.provider, 'ERR_HANDSHAKE_SECRET_MISMATCH'));
});

test('the same secret for another service name does not match', () => {
  const v = new HandshakeInitiator({ secret: 's', service: 'nas' });
  const p = new HandshakeResponder({ secret: 's', service: 'printer' });
  assert.ok(isBurrowError(v.onReply(p.onHello(v.hello())).result, 'ERR_HANDSHAKE_SECRET_MISMATCH'));
});

test('a relay that swaps in its own point learns nothing and breaks the handshake', () => {
  const v = new HandshakeInitiator({ secret: 'x', service: 'nas' });
  const p = new HandshakeResponder({ secret: 'x', service: 'nas' });
  const hello = v.hello();
  const mitm = cpaceShare(Buffer.from('guess'), Buffer.from('burrow v1 service=nas'), hello.subarray(1, 17));
  const forged = Buffer.concat([hello.subarray(0, 17), mitm.point, hello.subarray(49)]);
  const reply = p.onHello(forged);
  assert.ok(isBurrowError(v.onReply(reply).result, 'ERR_HANDSHAKE_SECRET_MISMATCH'));
});

test('identity and undecodable points are refused', () => {
  const share = cpaceShare(Buffer.from('s'), Buffer.from('ci'), Buffer.alloc(16));
  const t = { initiatorPoint: share.point, responderPoint: share.point };
  assert.throws(() => cpaceFinish(share, ristretto255.Point.ZERO.toBytes(), Buffer.alloc(16), t), /identity/);
  assert.throws(() => cpaceFinish(share, Buffer.alloc(32, 0xff), Buffer.alloc(16), t), /invalid CPace point/);
  assert.throws(() => cpaceFinish(share, Buffer.alloc(31), Buffer.alloc(16), t), /invalid CPace point/);
  const p = new HandshakeResponder({ secret: 's', service: 'nas' });
  assert.throws(() => p.onHello(Buffer.alloc(10, 1)), (e: unknown) => isBurrowError(e, 'ERR_HANDSHAKE_PROTOCOL'));
  assert.throws(() => p.onHello(Buffer.alloc(49, 9)), /unsupported handshake version 9/);
});

test('a truncated reply is a protocol error, not a crash', () => {
  const v = new HandshakeInitiator({ secret: 's', service: 'nas' });
  assert.ok(isBurrowError(v.onReply(Buffer.alloc(5)).result, 'ERR_HANDSHAKE_PROTOCOL'));
});

test('CPace matches the draft ristretto255/SHA-512 test vector (generator and initiator share)', () => {
  // draft-irtf-cfrg-cpace, test vector for ristretto255 and SHA-512.
  const prs = Buffer.from('Password');
  const ci = Buffer.from('6f630b425f726573706f6e6465720b415f696e69746961746f72', 'hex');
  const sid = Buffer.from('7e4b4791d6a8ef019b936c79fb7f2c57', 'hex');
  const g = Buffer.from(cpaceGenerator(prs, ci, sid).toBytes()).toString('hex');
  assert.equal(g, 'a6fc82c3b8968fbb2e06fee81ca858586dea50d248f0c7ca6a18b0902a30b36b');
  const ya = Buffer.from('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08', 'hex');
  let scalar = 0n;
  for (let i = ya.length - 1; i >= 0; i--) scalar = (scalar << 8n) | BigInt(ya[i]!);
  assert.equal(cpaceShare(prs, ci, sid, scalar).point.toString('hex'), 'd40fb265a7abeaee7939d91a585fe59f7053f982c296ec413c624c669308f87a');
});

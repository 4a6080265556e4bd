import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  AEAD_ALGORITHMS,
  PacketOpener,
  PacketSealer,
  aeadPreference,
  cpuinfoHasAes,
  deriveSessionKeys,
  negotiateAead,
  type AeadHost,
} from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';
import { key } from './helpers.js';

const X86_WITH_AES = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme sse2 ssse3 aes pclmulqdq avx2\n\nprocessor\t: 1\nflags\t\t: fpu aes\n';
const X86_WITHOUT = 'processor\t: 0\nflags\t\t: fpu vme sse2 ssse3 aes-ni-disabled pclmulqdq\n';
const ARM64_WITH_AES = 'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n';
const ARM64_WITHOUT = 'processor\t: 0\nFeatures\t: fp asimd evtstrm crc32\n';

function host(over: Partial<AeadHost>): AeadHost {
  return { env: {}, arch: 'x64', cpuinfo: () => X86_WITH_AES, ...over };
}

describe('AES instruction detection', () => {
  it('reads the aes flag on x86 and the aes feature on arm64, and nothing else', () => {
    assert.equal(cpuinfoHasAes(X86_WITH_AES, 'x64'), true);
    assert.equal(cpuinfoHasAes(X86_WITHOUT, 'x64'), false, 'a word that merely contains aes is not the flag');
    assert.equal(cpuinfoHasAes(ARM64_WITH_AES, 'arm64'), true);
    assert.equal(cpuinfoHasAes(ARM64_WITHOUT, 'arm64'), false);
    assert.equal(cpuinfoHasAes(X86_WITH_AES, 'arm64'), false, 'arm64 looks at Features, not flags');
    assert.equal(cpuinfoHasAes(ARM64_WITH_AES, 'x64'), false, 'x86 looks at flags, not Features');
    assert.equal(cpuinfoHasAes(X86_WITH_AES, 'riscv64'), false, 'other architectures: no');
    assert.equal(cpuinfoHasAes('', 'x64'), false);
  });

  it('prefers AES-256-GCM only with AES instructions; unreadable cpuinfo means ChaCha20', () => {
    assert.equal(aeadPreference(host({})), 'aes-256-gcm');
    assert.equal(aeadPreference(host({ cpuinfo: () => X86_WITHOUT })), 'chacha20-poly1305');
    assert.equal(aeadPreference(host({ cpuinfo: () => null })), 'chacha20-poly1305');
    assert.equal(aeadPreference(host({ arch: 'arm64', cpuinfo: () => ARM64_WITH_AES })), 'aes-256-gcm');
  });

  it('BURROW_AEAD overrides the CPU either way; an invalid value is ERR_CONFIG', () => {
    assert.equal(aeadPreference(host({ env: { BURROW_AEAD: 'chacha20-poly1305' } })), 'chacha20-poly1305');
    assert.equal(aeadPreference(host({ env: { BURROW_AEAD: 'aes-256-gcm' }, cpuinfo: () => null })), 'aes-256-gcm');
    assert.equal(aeadPreference(host({ env: { BURROW_AEAD: '' }, cpuinfo: () => null })), 'chacha20-poly1305', 'empty = unset');
    assert.throws(
      () => aeadPreference(host({ env: { BURROW_AEAD: 'aes-128-gcm' } })),
      (e: unknown) => isBurrowError(e, 'ERR_CONFIG') && /BURROW_AEAD must be one of chacha20-poly1305, aes-256-gcm, got 'aes-128-gcm'/.test(e.message),
    );
  });

  it('negotiates AES-256-GCM only when both sides prefer it', () => {
    assert.equal(negotiateAead('aes-256-gcm', 'aes-256-gcm'), 'aes-256-gcm');
    assert.equal(negotiateAead('aes-256-gcm', 'chacha20-poly1305'), 'chacha20-poly1305');
    assert.equal(negotiateAead('chacha20-poly1305', 'aes-256-gcm'), 'chacha20-poly1305');
    assert.equal(negotiateAead('chacha20-poly1305', 'chacha20-poly1305'), 'chacha20-poly1305');
  });
});

describe('sealing with either AEAD', () => {
  it('round-trips with the same AEAD and never opens with the other (same key, same format)', () => {
    const k = key();
    for (const aead of AEAD_ALGORITHMS) {
      const other = aead === 'aes-256-gcm' ? 'chacha20-poly1305' : 'aes-256-gcm';
      const pt = randomBytes(1375);
      const packet = new PacketSealer(k, { aead }).seal(pt);
      assert.equal(packet.length, 1400);
      assert.deepEqual(new PacketOpener(k, { aead }).open(packet), pt);
      const wrong = new PacketOpener(k, { aead: other });
      assert.equal(wrong.open(packet), null);
      assert.equal(wrong.stats.authFailed, 1);
    }
  });

  it('derives different keys per AEAD; ChaCha20 keeps the keys of before the negotiation', () => {
    const secret = key();
    const chacha = deriveSessionKeys(secret, 'initiator', 'conn');
    const explicit = deriveSessionKeys(secret, 'initiator', 'conn', 'chacha20-poly1305');
    const aes = deriveSessionKeys(secret, 'initiator', 'conn', 'aes-256-gcm');
    assert.equal(chacha.aead, 'chacha20-poly1305');
    assert.equal(aes.aead, 'aes-256-gcm');
    assert.deepEqual(explicit, chacha);
    assert.notDeepEqual(aes.sendKey, chacha.sendKey);
    assert.notDeepEqual(aes.recvKey, chacha.recvKey);
    // A relay that flipped one side's choice leaves keys and algorithm both wrong: the first packet fails.
    const responderAes = deriveSessionKeys(secret, 'responder', 'conn', 'aes-256-gcm');
    const sealed = new PacketSealer(chacha.sendKey, { aead: chacha.aead }).seal(Buffer.from('hello'));
    assert.equal(new PacketOpener(responderAes.recvKey, { aead: responderAes.aead }).open(sealed), null);
    assert.throws(() => deriveSessionKeys(secret, 'initiator', '', 'rot13' as 'aes-256-gcm'), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
  });
});

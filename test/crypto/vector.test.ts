import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { PacketOpener } from '../../src/crypto/index.js';
import { PacketKind } from '../../src/wire/packet-kind.js';
import { JumpingSealer } from './helpers.js';

/** Hex with spaces ignored, so vectors can be laid out field by field. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

// Key 00 01 .. 1f, counter 0x010203040506, plaintext "burrow: hello over udp".
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const COUNTER = 0x0102_0304_0506;
const PLAINTEXT = Buffer.from('burrow: hello over udp', 'utf8');
const PACKET = hex(`
  b1
  00 00 01 02 03 04 05 06
  cc 10 86 9c e8 5d 47 62 1b 84 e9 c8 d8 12 cb 51 13 d8 ca d5 86 35
  a7 a4 aa 91 b9 d6 b0 b4 a3 33 83 76 a6 be 53 f8
`);

describe('sealed packet layout (hand-written vector)', () => {
  it('seals to the pinned bytes: kind, big-endian counter, ciphertext, tag', () => {
    const packet = new JumpingSealer(KEY).jumpTo(COUNTER).seal(PLAINTEXT);
    assert.equal(packet[0], PacketKind.Session);
    assert.equal(packet[0], 0xb1);
    assert.deepEqual(packet.subarray(1, 9), hex('00 00 01 02 03 04 05 06'));
    assert.equal(packet.toString('hex'), PACKET.toString('hex'));
  });

  it('decrypts with a plain createDecipheriv: nonce = 4 zero bytes || counter, AAD = 9-byte header', () => {
    const header = PACKET.subarray(0, 9);
    const nonce = hex('00 00 00 00  00 00 01 02 03 04 05 06');
    const decipher = createDecipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 });
    decipher.setAAD(header, { plaintextLength: PLAINTEXT.length });
    decipher.setAuthTag(PACKET.subarray(PACKET.length - 16));
    const pt = decipher.update(PACKET.subarray(9, PACKET.length - 16));
    decipher.final();
    assert.deepEqual(pt, PLAINTEXT);

    // Without the header as AAD the tag does not verify: the header is authenticated.
    const noAad = createDecipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 });
    noAad.setAuthTag(PACKET.subarray(PACKET.length - 16));
    noAad.update(PACKET.subarray(9, PACKET.length - 16));
    assert.throws(() => noAad.final());
  });

  it('opens the pinned packet', () => {
    assert.deepEqual(new PacketOpener(KEY).open(PACKET), PLAINTEXT);
  });

  it("node's chacha20-poly1305 is RFC 8439's AEAD (section 2.8.2 vector)", () => {
    const key = hex('80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f');
    const nonce = hex('07 00 00 00 40 41 42 43 44 45 46 47');
    const aad = hex('50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7');
    const pt = Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    cipher.setAAD(aad, { plaintextLength: pt.length });
    const ct = Buffer.concat([cipher.update(pt), cipher.final()]);
    assert.equal(
      ct.toString('hex'),
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
        '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
        '3ff4def08e4b7a9de576d26586cec64b6116',
    );
    assert.equal(cipher.getAuthTag().toString('hex'), '1ae10b594f09e26a7e902ecbd0600691');
  });
});

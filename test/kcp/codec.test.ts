import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  KCP_CMD_ACK,
  KCP_CMD_PUSH,
  KCP_CMD_WASK,
  KCP_CMD_WINS,
  KCP_OVERHEAD,
  KcpConnection,
  decodeSegments,
  encodeSegment,
  encodeSegments,
  type KcpCommand,
  type KcpSegment,
} from '../../src/kcp/index.js';
import { isBurrowError } from '../../src/errors.js';

/** Hex with spaces ignored, so vectors can be laid out field by field. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function seg(p: Partial<KcpSegment> & { cmd: KcpCommand }): KcpSegment {
  return { conv: 0, frg: 0, wnd: 0, ts: 0, sn: 0, una: 0, data: new Uint8Array(0), ...p };
}

function plain(s: KcpSegment): object {
  return { ...s, data: Buffer.from(s.data).toString('hex') };
}

describe('KCP segment codec: hand-written vectors', () => {
  it('header constants match the wire format', () => {
    assert.equal(KCP_OVERHEAD, 24);
    assert.deepEqual([KCP_CMD_PUSH, KCP_CMD_ACK, KCP_CMD_WASK, KCP_CMD_WINS], [81, 82, 83, 84]);
  });

  it('PUSH with data: every field little-endian at its offset', () => {
    const s = seg({
      conv: 0x01020304,
      cmd: KCP_CMD_PUSH,
      frg: 2,
      wnd: 0x0506,
      ts: 0x0a0b0c0d,
      sn: 0x11121314,
      una: 0x21222324,
      data: Buffer.from('hi'),
    });
    // conv | cmd 81 | frg | wnd | ts | sn | una | len | "hi"
    const expected = hex('04030201 51 02 0605 0d0c0b0a 14131211 24232221 02000000 6869');
    assert.equal(expected.length, 26);
    assert.equal(expected.readUInt32LE(0), 0x01020304);
    assert.equal(expected[4], 81);
    assert.equal(expected.readUInt16LE(6), 0x0506);
    assert.equal(expected.readUInt32LE(8), 0x0a0b0c0d);
    assert.equal(expected.readUInt32LE(12), 0x11121314);
    assert.equal(expected.readUInt32LE(16), 0x21222324);
    assert.equal(expected.readUInt32LE(20), 2);
    assert.deepEqual(encodeSegments([s]), expected);
    const back = decodeSegments(expected);
    assert.ok(back);
    assert.equal(back.length, 1);
    assert.deepEqual(plain(at(back, 0)), plain(s));
  });

  it('ACK echoes ts and carries the acked sn, no payload', () => {
    const s = seg({ conv: 0xdeadbeef, cmd: KCP_CMD_ACK, wnd: 128, ts: 1000, sn: 0xfffffffe, una: 0xffffffff });
    const expected = hex('efbeadde 52 00 8000 e8030000 feffffff ffffffff 00000000');
    assert.deepEqual(encodeSegments([s]), expected);
    assert.deepEqual(plain(at(decodeSegments(expected)!, 0)), plain(s));
  });

  it('WASK and WINS', () => {
    const wask = seg({ conv: 7, cmd: KCP_CMD_WASK, wnd: 0, ts: 0x12345678, una: 42 });
    assert.deepEqual(encodeSegments([wask]), hex('07000000 53 00 0000 78563412 00000000 2a000000 00000000'));
    const wins = seg({ conv: 7, cmd: KCP_CMD_WINS, wnd: 0xffff, ts: 1, una: 43 });
    assert.deepEqual(encodeSegments([wins]), hex('07000000 54 00 ffff 01000000 00000000 2b000000 00000000'));
    assert.deepEqual(plain(at(decodeSegments(hex('07000000 54 00 ffff 01000000 00000000 2b000000 00000000'))!, 0)), plain(wins));
  });

  it('a datagram holding two segments', () => {
    const ack = seg({ conv: 1, cmd: KCP_CMD_ACK, wnd: 32, ts: 5, sn: 9, una: 10 });
    const push = seg({ conv: 1, cmd: KCP_CMD_PUSH, wnd: 32, ts: 6, sn: 3, una: 10, data: hex('aabbcc') });
    const expected = hex(
      '01000000 52 00 2000 05000000 09000000 0a000000 00000000' +
        '01000000 51 00 2000 06000000 03000000 0a000000 03000000 aabbcc',
    );
    assert.deepEqual(encodeSegments([ack, push]), expected);
    const back = decodeSegments(expected);
    assert.ok(back);
    assert.deepEqual(back.map(plain), [ack, push].map(plain));
  });

  it('decode refuses malformed framing', () => {
    const good = hex('01000000 51 00 2000 06000000 03000000 0a000000 03000000 aabbcc');
    assert.equal(decodeSegments(new Uint8Array(0)), null);
    assert.equal(decodeSegments(good.subarray(0, 23)), null); // truncated header
    assert.equal(decodeSegments(good.subarray(0, 26)), null); // len beyond buffer
    assert.equal(decodeSegments(Buffer.concat([good, hex('0100')])), null); // trailing partial header
    const badCmd = Buffer.from(good);
    badCmd[4] = 85;
    assert.equal(decodeSegments(badCmd), null);
  });

  it('encode refuses out-of-range fields', () => {
    const out = Buffer.alloc(64);
    for (const bad of [{ frg: 256 }, { wnd: 65536 }, { sn: -1 }, { conv: 2 ** 32 }, { ts: 1.5 }]) {
      assert.throws(
        () => encodeSegment(seg({ cmd: KCP_CMD_PUSH, ...bad }), out, 0),
        (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'),
      );
    }
    assert.throws(() => encodeSegment(seg({ cmd: KCP_CMD_PUSH, data: Buffer.alloc(50) }), out, 0));
  });
});

describe('KcpConnection on the wire', () => {
  it('first PUSH and its ACK have the exact ikcp layout', () => {
    const outA: Buffer[] = [];
    const outB: Buffer[] = [];
    const a = new KcpConnection({ conv: 0x01020304, output: (d) => void outA.push(Buffer.from(d)) });
    const b = new KcpConnection({ conv: 0x01020304, output: (d) => void outB.push(Buffer.from(d)) });
    a.send(Buffer.from('abc'));
    a.flush(1000);
    assert.equal(outA.length, 1);
    // conv, PUSH, frg 0, wnd 128, ts 1000, sn 0, una 0, len 3, "abc"
    assert.deepEqual(outA[0], hex('04030201 51 00 8000 e8030000 00000000 00000000 03000000 616263'));
    assert.equal(b.input(outA[0], 1007), true);
    b.flush(1007);
    // The segment waits unread in b's queue, so b offers 127; una is now 1.
    assert.deepEqual(outB[0], hex('04030201 52 00 7f00 e8030000 00000000 01000000 00000000'));
    assert.equal(a.input(outB[0], 1020), true);
    assert.equal(a.waitSnd(), 0);
    assert.equal(a.srtt, 20);
    assert.equal(b.recv()?.toString(), 'abc');
  });

  it('packs several segments into one datagram up to the MTU', () => {
    const out: Buffer[] = [];
    const a = new KcpConnection({ conv: 9, mtu: 100, sndwnd: 64, noCongestion: true, output: (d) => void out.push(Buffer.from(d)) });
    for (let i = 0; i < 6; i++) a.send(Buffer.alloc(20, i));
    a.flush(0);
    // 44 bytes per segment: two fit in 100, six need three datagrams.
    assert.deepEqual(out.map((d) => d.length), [88, 88, 88]);
    const segs = out.flatMap((d) => decodeSegments(d)!);
    assert.deepEqual(segs.map((s) => s.sn), [0, 1, 2, 3, 4, 5]);
  });

  it('message fragments count frg down to 0', () => {
    const out: Buffer[] = [];
    const a = new KcpConnection({ conv: 9, mtu: 100, sndwnd: 64, noCongestion: true, output: (d) => void out.push(Buffer.from(d)) });
    a.send(Buffer.alloc(76 * 3 + 1));
    a.flush(0);
    const segs = out.flatMap((d) => decodeSegments(d)!);
    assert.deepEqual(segs.map((s) => s.frg), [3, 2, 1, 0]);
    assert.deepEqual(segs.map((s) => s.data.length), [76, 76, 76, 1]);
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const arbSegment: fc.Arbitrary<KcpSegment> = fc.record({
  conv: u32,
  cmd: fc.constantFrom<KcpCommand>(KCP_CMD_PUSH, KCP_CMD_ACK, KCP_CMD_WASK, KCP_CMD_WINS),
  frg: fc.integer({ min: 0, max: 255 }),
  wnd: fc.integer({ min: 0, max: 0xffff }),
  ts: u32,
  sn: u32,
  una: u32,
  data: fc.uint8Array({ maxLength: 300 }),
});

describe('KCP segment codec: properties', () => {
  it('decode(encode(segments)) = segments', () => {
    fc.assert(
      fc.property(fc.array(arbSegment, { minLength: 1, maxLength: 5 }), (segs) => {
        const back = decodeSegments(encodeSegments(segs));
        assert.ok(back);
        assert.deepEqual(back.map(plain), segs.map(plain));
      }),
      { numRuns: 500 },
    );
  });

  it('decode never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeSegments(bytes);
        assert.ok(r === null || Array.isArray(r));
      }),
      { numRuns: 2000 },
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBurrowError } from '../../src/errors.js';
import { FLOW_HEADER_BYTES, FlowTable, MAX_FLOW_ID, UdpCounters, decodeFlowDatagram, encodeFlowDatagram } from '../../src/udp/index.js';

describe('flow datagram frame', () => {
  it('is flowId u32 big-endian, then the payload, and decodes back', () => {
    const d = encodeFlowDatagram(0x01020304, Buffer.from('hi'));
    assert.deepEqual([...d], [1, 2, 3, 4, 0x68, 0x69]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_FLOW_ID }), fc.uint8Array({ maxLength: 2000 }), (id, payload) => {
        const back = decodeFlowDatagram(encodeFlowDatagram(id, payload));
        assert.ok(back !== null);
        assert.equal(back.flowId, id);
        assert.deepEqual(new Uint8Array(back.payload), payload);
      }),
    );
  });

  it('refuses (null) a datagram too short for a flow id; an empty payload is fine', () => {
    for (let n = 0; n < FLOW_HEADER_BYTES; n++) assert.equal(decodeFlowDatagram(Buffer.alloc(n)), null);
    assert.equal(decodeFlowDatagram(Buffer.alloc(4))?.payload.length, 0);
  });
});

describe('FlowTable', () => {
  it('gives each new key its own id and finds it by key and by id', () => {
    const t = new FlowTable<string>({ maxFlows: 10, idleMs: 1000 });
    const a = t.open('a', 0, 'A');
    const b = t.open('b', 0, 'B');
    assert.ok(a.kind === 'opened' && b.kind === 'opened');
    assert.notEqual(a.flow.id, b.flow.id);
    assert.equal(t.find('a'), a.flow);
    assert.equal(t.get(b.flow.id)?.data, 'B');
    assert.deepEqual(t.open('a', 1, 'again'), { kind: 'refused', reason: 'id_in_use' });
    assert.equal(t.size, 2);
  });

  it('refuses a flow past the cap, and has room again once one ends', () => {
    const t = new FlowTable<null>({ maxFlows: 2, idleMs: 1000 });
    assert.equal(t.open('a', 0, null).kind, 'opened');
    assert.equal(t.open('b', 0, null).kind, 'opened');
    assert.deepEqual(t.open('c', 0, null), { kind: 'refused', reason: 'flow_cap' });
    assert.equal(t.size, 2);
    assert.equal(t.expire(1000).length, 2);
    assert.equal(t.open('c', 1000, null).kind, 'opened');
  });

  it('takes the id the other peer chose (provider), and refuses one in use', () => {
    const t = new FlowTable<null>({ maxFlows: 4, idleMs: 1000 });
    const r = t.open('77', 0, null, 77);
    assert.ok(r.kind === 'opened' && r.flow.id === 77);
    assert.deepEqual(t.open('x', 0, null, 77), { kind: 'refused', reason: 'id_in_use' });
  });

  it('expires exactly the flows idle for idleMs; a touch keeps one alive; the deadline is the first flow\'s', () => {
    const t = new FlowTable<null>({ maxFlows: 10, idleMs: 100 });
    const a = t.open('a', 0, null);
    const b = t.open('b', 10, null);
    assert.ok(a.kind === 'opened' && b.kind === 'opened');
    assert.equal(t.nextDeadline(), 100);
    t.touch(a.flow, 50);
    assert.equal(t.nextDeadline(), 110, 'b is now the first to expire');
    assert.deepEqual(t.expire(109), []);
    assert.deepEqual(t.expire(110).map((f) => f.key), ['b']);
    assert.equal(t.nextDeadline(), 150);
    assert.deepEqual(t.expire(150).map((f) => f.key), ['a']);
    assert.equal(t.nextDeadline(), null);
    assert.equal(t.find('a'), undefined);
  });

  it('matches a model under random opens, touches and expiries (ids unique, cap held, idle order kept)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('open', 'touch', 'expire'), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 60 })), { maxLength: 200 }),
        (ops) => {
          const idleMs = 100;
          const t = new FlowTable<null>({ maxFlows: 5, idleMs });
          const model = new Map<string, number>();
          let now = 0;
          for (const [op, k, dt] of ops) {
            now += dt;
            const key = `k${k}`;
            if (op === 'open') {
              const r = t.open(key, now, null);
              if (model.has(key)) assert.equal(r.kind, 'refused');
              else if (model.size >= 5) assert.deepEqual(r, { kind: 'refused', reason: 'flow_cap' });
              else {
                assert.equal(r.kind, 'opened');
                model.set(key, now);
              }
            } else if (op === 'touch') {
              const f = t.find(key);
              assert.equal(f !== undefined, model.has(key));
              if (f) {
                t.touch(f, now);
                model.set(key, now);
              }
            } else {
              const gone = t.expire(now).map((f) => f.key).sort();
              const want = [...model].filter(([, at]) => at + idleMs <= now).map(([key]) => key).sort();
              assert.deepEqual(gone, want);
              for (const key of want) model.delete(key);
            }
            const ids = new Set([...model.keys()].map((key) => t.find(key)?.id));
            assert.equal(ids.size, model.size, 'ids are unique');
            assert.equal(t.size, model.size);
            const first = Math.min(...model.values());
            assert.equal(t.nextDeadline(), model.size === 0 ? null : first + idleMs);
          }
        },
      ),
    );
  });

  it('wraps its ids past 2^32-1 and skips ids in use', () => {
    const t = new FlowTable<null>({ maxFlows: 10, idleMs: 1000 });
    (t as unknown as { nextId: number }).nextId = MAX_FLOW_ID;
    const last = t.open('a', 0, null);
    const wrapped = t.open('b', 0, null);
    assert.ok(last.kind === 'opened' && wrapped.kind === 'opened');
    assert.equal(last.flow.id, MAX_FLOW_ID);
    assert.equal(wrapped.flow.id, 1);
  });

  it('rejects a cap or idle time that cannot work', () => {
    assert.throws(() => new FlowTable({ maxFlows: 0, idleMs: 1 }), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => new FlowTable({ maxFlows: 1, idleMs: 0 }), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
  });
});

describe('UdpCounters', () => {
  it('adds every count to its parent too (a peer\'s totals outlive its sessions)', () => {
    const peer = new UdpCounters();
    const s = new UdpCounters(peer);
    s.sent(10);
    s.received(7);
    s.dropped('too_big');
    s.flowOpened();
    s.flowClosed();
    for (const c of [s, peer]) {
      assert.deepEqual(c.counts, { datagramsSent: 1, bytesSent: 10, datagramsReceived: 1, bytesReceived: 7 });
      assert.deepEqual(c.nonZeroDrops(), { too_big: 1 });
      assert.equal(c.flows, 0);
      assert.equal(c.flowsOpened, 1);
    }
  });
});

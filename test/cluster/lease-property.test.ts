import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LeaseMachine, type RenewResult } from '../../rendezvous/cluster/lease.js';

const T = { leaseTtlMs: 6000, leaseRefreshMs: 2000, leaseRetryMs: 1000 };

describe('LeaseMachine under any sequence of answers and delays', () => {
  it('events alternate acquired/lost from acquired, held matches the last event, one renew in flight, while held the expiry a TTL after the last confirmed send is armed', () => {
    const step = fc.record({
      advance: fc.integer({ min: 0, max: 8000 }),
      answer: fc.constantFrom<RenewResult | 'none'>('extended', 'created', 'taken', 'error', 'none'),
      latency: fc.integer({ min: 0, max: 8000 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let now = 0;
        const m = new LeaseMachine(T, now);
        let inFlight: number | null = null;
        let lastEvent: 'acquired' | 'lost' | null = null;
        let lastConfirmed: number | null = null;
        for (const s of steps) {
          now += s.advance;
          m.handleTimeout(now);
          if (inFlight !== null && s.answer !== 'none') {
            now += s.latency;
            m.renewed(s.answer, inFlight, now);
            if (s.answer === 'extended' || s.answer === 'created') lastConfirmed = Math.max(lastConfirmed ?? inFlight, inFlight);
            inFlight = null;
          }
          for (const o of m.takeOutputs()) {
            if (o.kind === 'renew') {
              assert.equal(inFlight, null, 'a second renew while one is in flight');
              inFlight = o.sentAt;
              continue;
            }
            assert.notEqual(o.kind, lastEvent ?? 'lost', `${o.kind} twice in a row`);
            lastEvent = o.kind;
          }
          const st = m.status(now);
          assert.equal(st.held, lastEvent === 'acquired');
          const d = m.nextDeadline();
          if (inFlight === null) assert.ok(d !== null, 'with no renew in flight, a next renew is always due');
          if (st.held) {
            assert.ok(lastConfirmed !== null && d !== null && d <= lastConfirmed + T.leaseTtlMs, 'while held, its expiry is always armed');
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

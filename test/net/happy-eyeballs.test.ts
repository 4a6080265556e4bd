import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HAPPY_EYEBALLS_TIMERS, HappyEyeballsRace, MAX_RACE_ADDRESSES, interleaveFamilies, type RaceAction } from '../../src/net/happy-eyeballs.js';

const D = HAPPY_EYEBALLS_TIMERS.attemptDelayMs;
const attempts = (actions: RaceAction[]) => actions.flatMap((a) => (a.kind === 'attempt' ? [a.address] : []));

describe('interleaveFamilies', () => {
  it('puts IPv6 first and alternates families, each in resolver order', () => {
    assert.deepEqual(interleaveFamilies(['192.0.2.1', '192.0.2.2', '2001:db8::1', '2001:db8::2', '192.0.2.3']), [
      '2001:db8::1',
      '192.0.2.1',
      '2001:db8::2',
      '192.0.2.2',
      '192.0.2.3',
    ]);
  });

  it('drops duplicates and anything that is not an IP literal', () => {
    assert.deepEqual(interleaveFamilies(['192.0.2.1', 'example.com', '192.0.2.1', '::1', '::1']), ['::1', '192.0.2.1']);
    assert.deepEqual(interleaveFamilies([]), []);
  });

  it('keeps at most MAX_RACE_ADDRESSES, both families among them', () => {
    const v4 = Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`);
    const v6 = Array.from({ length: 20 }, (_, i) => `2001:db8::${i + 1}`);
    const out = interleaveFamilies([...v4, ...v6]);
    assert.equal(out.length, MAX_RACE_ADDRESSES);
    assert.deepEqual(out.slice(0, 2), ['2001:db8::1', '192.0.2.1']);
  });
});

describe('HappyEyeballsRace (fake clock)', () => {
  it('starts the next address only after the attempt delay, and the first to connect wins', () => {
    const r = new HappyEyeballsRace(['::1', '127.0.0.1', '::2']);
    assert.deepEqual(attempts(r.start(0)), ['::1']);
    assert.equal(r.deadline(), D);
    assert.deepEqual(r.timeout(D - 1), [], 'too early: nothing starts');
    assert.deepEqual(attempts(r.timeout(D)), ['127.0.0.1']);
    assert.equal(r.deadline(), 2 * D);
    // The slow first attempt keeps running (RFC 8305, unlike node's abort-and-advance) and may still win.
    assert.deepEqual(r.connected(0), [{ kind: 'won', index: 0, losers: [1] }]);
    assert.equal(r.deadline(), null);
    assert.deepEqual(r.connected(1), [], 'a loser connecting late changes nothing');
    assert.deepEqual(r.failed(1, 600), []);
    assert.deepEqual(r.timeout(2 * D), []);
  });

  it('a failure starts the next address at once and restarts the delay from there', () => {
    const r = new HappyEyeballsRace(['::1', '127.0.0.1', '::2']);
    r.start(0);
    assert.deepEqual(attempts(r.failed(0, 10)), ['127.0.0.1']);
    assert.equal(r.deadline(), 10 + D);
    assert.deepEqual(r.connected(1), [{ kind: 'won', index: 1, losers: [] }]);
  });

  it('fails once, only when the last running attempt has failed', () => {
    const r = new HappyEyeballsRace(['::1', '127.0.0.1']);
    r.start(0);
    r.timeout(D);
    assert.equal(r.deadline(), null, 'no address left to start');
    assert.deepEqual(r.failed(1, 300), [], 'the first attempt is still running');
    assert.deepEqual(r.failed(0, 400), [{ kind: 'failed' }]);
    assert.deepEqual(r.failed(0, 401), []);
  });

  it('ignores events for attempts that never started, and refuses an empty list', () => {
    const r = new HappyEyeballsRace(['::1', '127.0.0.1']);
    r.start(0);
    assert.deepEqual(r.connected(1), []);
    assert.deepEqual(r.failed(1, 5), []);
    assert.deepEqual(r.start(6), [], 'start twice does nothing');
    assert.throws(() => new HappyEyeballsRace([]), RangeError);
  });
});

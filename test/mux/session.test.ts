import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finished as finished_ } from 'node:stream';
import { BurrowError, isBurrowError } from '../../src/errors.js';
import { MuxSession, type MuxStream } from '../../src/mux/index.js';
import { errorOf, holdingLoop, nextStream, pair, quiet, readAll, tick, until } from './helpers.js';

describe('open / accept', () => {
  it('server speaks first: the opener writes nothing, the acceptor writes, the opener reads (both directions)', async () => {
    const p = pair();
    try {
      for (const [opener, acceptor] of [
        [p.a, p.b],
        [p.b, p.a],
      ] as const) {
        const accepted = nextStream(acceptor);
        const s = opener.openStream();
        const got = readAll(s);
        const t = await accepted;
        assert.equal(t.id, s.id);
        t.end('hello from the acceptor');
        s.end();
        assert.equal((await got).toString(), 'hello from the acceptor');
        assert.equal((await readAll(t)).length, 0);
      }
      assert.equal(p.a.stats.streamsOpened, 1);
      assert.equal(p.b.stats.streamsOpened, 1);
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'streams forgotten');
    } finally {
      p.close();
    }
  });

  it('eager open: the SYN rides on the first data, no round trip waited', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.write('eager');
      // Before any delivery happened: one frame, DATA with SYN.
      assert.equal(p.ab.writes, 1);
      const t = await nextStream(p.b);
      t.end('ok');
      s.end();
      assert.equal((await readAll(t)).toString(), 'eager');
      assert.equal((await readAll(s)).toString(), 'ok');
    } finally {
      p.close();
    }
  });

  it('initiator uses odd ids, responder even ids', () => {
    const p = pair();
    try {
      assert.deepEqual([quiet(p.a.openStream()).id, quiet(p.a.openStream()).id], [1, 3]);
      assert.deepEqual([quiet(p.b.openStream()).id, quiet(p.b.openStream()).id], [2, 4]);
    } finally {
      p.close();
    }
  });
});

describe('half-close, reset, destroy', () => {
  it('end() is a half-close: the peer sees end and can still write back', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.end('request');
      const t = await nextStream(p.b);
      assert.equal((await readAll(t)).toString(), 'request');
      assert.equal(t.writable, true);
      const reply = readAll(s);
      t.write('reply part 1, ');
      t.end('part 2');
      assert.equal((await reply).toString(), 'reply part 1, part 2');
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
      await until(() => s.destroyed && t.destroyed, 2000, 'autoDestroy');
    } finally {
      p.close();
    }
  });

  it('half-close the other way round: the acceptor ends first', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.write('x');
      const t = await nextStream(p.b);
      t.end('bye');
      assert.equal((await readAll(s)).toString(), 'bye');
      s.end('still writing after the peer ended');
      assert.equal((await readAll(t)).toString(), 'xstill writing after the peer ended');
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
    } finally {
      p.close();
    }
  });

  it('reset() propagates as ERR_STREAM_RESET and frees state on both sides', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.write('data');
      const t = await nextStream(p.b);
      const err = errorOf(t);
      s.reset();
      assert.equal(p.a.streamCount, 0);
      const e = await err;
      assert.ok(isBurrowError(e, 'ERR_STREAM_RESET'), String(e));
      assert.equal(p.b.streamCount, 0);
      assert.equal(p.a.stats.resetsSent, 1);
      assert.equal(p.b.stats.resetsReceived, 1);
    } finally {
      p.close();
    }
  });

  it('destroy(err) on the acceptor resets the opener; pending writes fail', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.write('data');
      const t = await nextStream(p.b);
      const err = errorOf(s);
      t.destroy(new Error('app gave up'));
      t.on('error', () => {});
      const e = await err;
      assert.ok(isBurrowError(e, 'ERR_STREAM_RESET'));
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
    } finally {
      p.close();
    }
  });

  it('destroy() before the SYN went out sends nothing at all', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.destroy();
      await tick(10);
      assert.equal(p.ab.writes, 0);
      assert.equal(p.b.stats.framesIn, 0);
      assert.equal(p.a.streamCount, 0);
    } finally {
      p.close();
    }
  });

  it('many open/destroy/end cycles leave no state behind', async () => {
    const p = pair();
    try {
      const accepted: MuxStream[] = [];
      p.b.on('stream', (t: MuxStream) => {
        accepted.push(quiet(t));
        t.resume();
      });
      for (let i = 0; i < 200; i++) {
        const s = quiet(p.a.openStream());
        s.write('x');
        if (i % 2 === 0) s.destroy();
        else s.end();
      }
      await until(() => accepted.length === 200, 2000, 'all accepted');
      await tick(10);
      // The ended ones wait, half-closed, for the acceptor's FIN.
      assert.equal(p.a.streamCount, 100);
      assert.equal(p.b.streamCount, 100);
      for (const t of accepted) if (!t.destroyed) t.end();
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
    } finally {
      p.close();
    }
  });

  it('session close(err) destroys every stream with that error and emits close once', async () => {
    const p = pair();
    const s = p.a.openStream();
    const err = errorOf(s);
    let closes = 0;
    p.a.on('close', () => closes++);
    p.a.close(new BurrowError('ERR_SESSION_DEAD', 'link died'));
    p.a.close();
    const e = await err;
    assert.ok(isBurrowError(e, 'ERR_SESSION_DEAD'));
    assert.equal(closes, 1);
    assert.equal(p.a.closed, true);
    assert.equal(p.a.streamCount, 0);
    assert.throws(() => p.a.openStream(), (x: unknown) => isBurrowError(x, 'ERR_MUX_CLOSED'));
    await assert.rejects(p.a.ping(), (x: unknown) => isBurrowError(x, 'ERR_MUX_CLOSED'));
    p.close();
  });

  it('plain close() aborts streams without an error event; unfinished writes fail with ERR_MUX_CLOSED', async () => {
    const p = pair({ link: { capacity: 1 } }); // the transport pushes back after the first frame
    const s = p.a.openStream();
    const idle = p.a.openStream();
    const writeErr = new Promise<Error | null | undefined>((resolve) => s.write(Buffer.alloc(100_000), resolve));
    const finished = (x: MuxStream): Promise<unknown> => new Promise((resolve) => finished_(x, resolve));
    const [fs, fi] = [finished(s), finished(idle)];
    p.a.close();
    const e = await writeErr;
    assert.ok(isBurrowError(e, 'ERR_MUX_CLOSED'), String(e));
    assert.ok(isBurrowError(await fs, 'ERR_MUX_CLOSED'));
    assert.equal((await fi as NodeJS.ErrnoException | undefined)?.code, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(s.destroyed && idle.destroyed, true);
    p.close();
  });
});

describe('limits, go-away, ping, keepalive', () => {
  it('maxStreams: excess incoming SYN is refused; the opener sees ERR_MUX_TOO_MANY_STREAMS', async () => {
    const p = pair({ b: { maxStreams: 2 } });
    try {
      p.b.on('stream', (t: MuxStream) => t.resume());
      p.b.on('stream', quiet);
      const s1 = quiet(p.a.openStream());
      const s2 = quiet(p.a.openStream());
      const s3 = p.a.openStream();
      s1.write('1');
      s2.write('2');
      s3.write('3');
      const e = await errorOf(s3);
      assert.ok(isBurrowError(e, 'ERR_MUX_TOO_MANY_STREAMS'), String(e));
      assert.equal(p.b.stats.streamsRefused, 1);
      assert.equal(p.b.streamCount, 2);
      // Local limit: openStream itself refuses.
      assert.throws(() => p.b.openStream(), (x: unknown) => isBurrowError(x, 'ERR_MUX_TOO_MANY_STREAMS'));
    } finally {
      p.close();
    }
  });

  it('go-away: no new streams either way, existing streams finish', async () => {
    const p = pair();
    try {
      const s = p.a.openStream();
      s.write('before');
      const t = await nextStream(p.b);
      const goaway = new Promise<number>((resolve) => p.b.once('goaway', resolve));
      p.a.goAway();
      assert.throws(() => p.a.openStream(), (x: unknown) => isBurrowError(x, 'ERR_MUX_GOAWAY'));
      // b opens before it has heard the GO_AWAY: a refuses it.
      const racing = p.b.openStream();
      racing.write('too late');
      const refused = await errorOf(racing);
      assert.ok(isBurrowError(refused, 'ERR_MUX_GOAWAY'), String(refused));
      assert.equal(await goaway, 0);
      assert.throws(() => p.b.openStream(), (x: unknown) => isBurrowError(x, 'ERR_MUX_GOAWAY'));
      // The existing stream still works both ways.
      s.end(' after');
      assert.equal((await readAll(t)).toString(), 'before after');
      t.end('reply');
      assert.equal((await readAll(s)).toString(), 'reply');
    } finally {
      p.close();
    }
  });

  it('ping() resolves with an RTT', async () => {
    const p = pair();
    try {
      const rtts = await Promise.all([p.a.ping(), p.b.ping(), p.a.ping()]);
      for (const rtt of rtts) assert.ok(rtt >= 0 && rtt < 1000, String(rtt));
      assert.equal(p.b.stats.pongsSent, 2);
    } finally {
      p.close();
    }
  });

  it('ping() times out with ERR_MUX_TIMEOUT when nobody answers', async () => {
    const p = pair();
    try {
      p.ab.blackhole = true;
      await assert.rejects(holdingLoop(p.a.ping(30)), (x: unknown) => isBurrowError(x, 'ERR_MUX_TIMEOUT'));
    } finally {
      p.close();
    }
  });

  it('keepalive: a silent peer closes the session with ERR_MUX_TIMEOUT', async () => {
    const p = pair({ a: { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 100 } });
    try {
      p.ab.blackhole = true; // b never hears a's pings, so never answers
      const started = Date.now();
      const err = await holdingLoop(new Promise<unknown>((resolve) => p.a.once('close', resolve)));
      assert.ok(isBurrowError(err, 'ERR_MUX_TIMEOUT'), String(err));
      assert.ok(Date.now() - started >= 90);
      assert.ok(p.a.stats.pingsSent >= 2);
    } finally {
      p.close();
    }
  });

  it('keepalive: an idle but healthy session stays up (pings get answered)', async () => {
    const p = pair({ a: { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 80 }, b: { keepaliveIntervalMs: 20, keepaliveTimeoutMs: 80 } });
    try {
      await tick(300);
      assert.equal(p.a.closed, false);
      assert.equal(p.b.closed, false);
      assert.ok(p.a.stats.pingsSent >= 3);
      assert.ok(p.b.stats.pongsSent >= 3);
    } finally {
      p.close();
    }
  });

  it('keepalive timers do not hold the process and are gone after close', async () => {
    const s = new MuxSession({ write: () => true }, { role: 'initiator' });
    s.close();
    // Nothing to assert beyond "the test runner exits": close() cleared the timer.
    assert.equal(s.closed, true);
  });
});

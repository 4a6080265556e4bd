/**
 * A session setup that fails part-way (here: a session tuning the
 * TunnelSession refuses) is reported as a typed error, closes what it had
 * opened (the relay link above all) and leaves no promise rejected unhandled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBurrowError, type BurrowError } from '../../src/errors.js';
import { nodeStreamTransport } from '../../src/net/node-stream-transport.js';
import type { StreamSocket, StreamTransport } from '../../src/net/stream-transport.js';
import type { SessionTuning } from '../../peer/tunnel-options.js';
import { echoServer, startLoopbackLab, startProvider, startVisitor, waitFor } from './harness.js';

/** A mux window below the mux's minimum (1024): the TunnelSession constructor throws on it. */
const BAD_TUNING: SessionTuning = { mux: { initialWindow: 1 } };

/** node:net, recording every socket this peer connects (its control connection first, then relay links). */
function recordingTransport(): { transport: StreamTransport; sockets: StreamSocket[] } {
  const sockets: StreamSocket[] = [];
  return {
    sockets,
    transport: {
      connect(opts) {
        const s = nodeStreamTransport.connect(opts);
        sockets.push(s);
        return s;
      },
      createServer: (opts, onConnection) => nodeStreamTransport.createServer(opts, onConnection),
    },
  };
}

/** Collects unhandled rejections while `body` runs (and a little after, for late ones). */
async function withRejectionWatch(body: (rejections: unknown[]) => Promise<void>): Promise<unknown[]> {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    await body(rejections);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  return rejections;
}

function once<T>(emitter: NodeJS.EventEmitter, event: string, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    emitter.once(event, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

for (const mode of ['stcp', 'xtcp'] as const) {
  test(`visitor (${mode}) with a session tuning the session refuses: ERR_CONFIG 'fatal', relay closed, no unhandled rejection`, { timeout: 30_000 }, async () => {
    const lab = await startLoopbackLab();
    const echo = await echoServer();
    const provider = startProvider(lab, echo.port, { mode });
    const rec = recordingTransport();
    const { visitor } = await startVisitor(lab, { mode, session: BAD_TUNING, transport: rec.transport });
    try {
      let fatal: BurrowError | null = null;
      const rejections = await withRejectionWatch(async (seen) => {
        const got = once<BurrowError>(visitor, 'fatal', 8_000, "the visitor's fatal error");
        // An unhandled rejection (the old behaviour) ends the wait at once, with that failure.
        fatal = await Promise.race([got, waitFor(() => seen.length > 0, 8_000, 'rejection').then(() => null)]);
      });
      assert.deepEqual(rejections.map(String), [], 'no unhandled rejection');
      assert.ok(fatal !== null && isBurrowError(fatal, 'ERR_CONFIG'), `a typed ERR_CONFIG error, got ${String(fatal)}`);
      assert.match((fatal as BurrowError).message, /session tuning.*initialWindow/);
      // Every connection past the control connection (relay links) is closed.
      const relays = rec.sockets.slice(1);
      await waitFor(() => relays.every((s) => s.destroyed), 2_000, 'relay sockets closed');
      const log = lab.logs.find((l) => l.component === 'visitor' && l.event === 'session-setup-failed');
      assert.ok(log, 'the log says the setup failed');
      assert.equal(log.fields['code'], 'ERR_CONFIG');
      assert.equal(visitor.currentSession, null, 'no session is left behind');
    } finally {
      visitor.stop();
      provider.stop();
      await lab.close();
      echo.close();
    }
  });

  test(`provider (${mode}) with a session tuning the session refuses: ERR_CONFIG 'fatal', relay closed, no unhandled rejection`, { timeout: 30_000 }, async () => {
    const lab = await startLoopbackLab();
    const echo = await echoServer();
    const rec = recordingTransport();
    const provider = startProvider(lab, echo.port, { mode, session: BAD_TUNING, transport: rec.transport });
    const { visitor } = await startVisitor(lab, { mode });
    try {
      let fatal: BurrowError | null = null;
      const rejections = await withRejectionWatch(async (seen) => {
        const got = once<BurrowError>(provider, 'fatal', 8_000, "the provider's fatal error");
        fatal = await Promise.race([got, waitFor(() => seen.length > 0, 8_000, 'rejection').then(() => null)]);
      });
      assert.deepEqual(rejections.map(String), [], 'no unhandled rejection');
      assert.ok(fatal !== null && isBurrowError(fatal, 'ERR_CONFIG'), `a typed ERR_CONFIG error, got ${String(fatal)}`);
      // The provider connects only to the rendezvous: its control connection, then relay links; targets use no socket of this transport before a session.
      const relays = rec.sockets.slice(1);
      await waitFor(() => relays.every((s) => s.destroyed), 2_000, 'relay sockets closed');
      const log = lab.logs.find((l) => l.component === 'provider' && l.event === 'session-setup-failed');
      assert.ok(log, 'the log says the setup failed');
      assert.equal(log.fields['code'], 'ERR_CONFIG');
      assert.equal(provider.sessionCount, 0, 'no session is left behind');
    } finally {
      visitor.stop();
      provider.stop();
      await lab.close();
      echo.close();
    }
  });
}

test('a visitor stopped while its relay link is being joined closes that link and leaves nothing running', { timeout: 30_000 }, async () => {
  const lab = await startLoopbackLab();
  const echo = await echoServer();
  const provider = startProvider(lab, echo.port, { mode: 'stcp' });
  const rec = recordingTransport();
  let stopVisitor = () => {};
  const transport: StreamTransport = {
    connect(opts) {
      const s = rec.transport.connect(opts);
      // The second connection is the relay link: stop the visitor as it starts.
      if (rec.sockets.length === 2) setImmediate(() => stopVisitor());
      return s;
    },
    createServer: rec.transport.createServer,
  };
  const { visitor } = await startVisitor(lab, { mode: 'stcp', transport });
  stopVisitor = () => visitor.stop();
  try {
    const rejections = await withRejectionWatch(async () => {
      await waitFor(() => rec.sockets.length >= 2, 8_000, 'the relay connection');
      await waitFor(() => rec.sockets.every((s) => s.destroyed), 8_000, 'every socket of the visitor closed');
    });
    assert.deepEqual(rejections.map(String), []);
    assert.equal(visitor.currentSession, null);
    assert.equal(rec.sockets.length, 2, 'no new setup after the stop');
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
    echo.close();
  }
});

test('a step failing after the relay link is open (the direct config throws when read): the link is closed, the visitor retries, nothing unhandled', { timeout: 30_000 }, async () => {
  const lab = await startLoopbackLab();
  const echo = await echoServer();
  const provider = startProvider(lab, echo.port);
  const rec = recordingTransport();
  // Read only once the relay is up (the initiator joins the relay first, then builds its direct side).
  const direct = Object.defineProperty({}, 'udpPort', {
    enumerable: true,
    get(): number {
      throw new Error('injected: direct config unreadable');
    },
  });
  const { visitor } = await startVisitor(lab, { mode: 'xtcp', direct, transport: rec.transport });
  try {
    const rejections = await withRejectionWatch(async (seen) => {
      await Promise.race([
        waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'session-setup-failed'), 10_000, 'session-setup-failed'),
        waitFor(() => seen.length > 0, 10_000, 'rejection'),
      ]);
    });
    assert.deepEqual(rejections.map(String), [], 'no unhandled rejection');
    const failed = lab.logs.find((l) => l.component === 'visitor' && l.event === 'session-setup-failed')!;
    assert.equal(failed.fields['code'], 'ERR_CONNECT_FAILED');
    assert.match(String(failed.fields['error']), /injected/);
    const relay = rec.sockets[1];
    assert.ok(relay, 'the relay link had been opened');
    await waitFor(() => relay.destroyed, 2_000, 'the relay link closed');
    // Not fatal: the visitor tries again (after its backoff).
    await waitFor(() => lab.logs.filter((l) => l.component === 'visitor' && l.event === 'session-setup-failed').length >= 2, 10_000, 'a retry');
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
    echo.close();
  }
});

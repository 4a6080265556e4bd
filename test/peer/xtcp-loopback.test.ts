/**
 * xtcp on loopback with real sockets: a live session moves from the relay to
 * the direct path with its streams, survives the rendezvous going away, and
 * `--relay never` refuses connections (and says why) when there is no direct
 * path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { echoServer, startLoopbackLab, startProvider, startVisitor, waitFor } from './harness.js';

/** Sends `size` random bytes through the visitor to the echo service; resolves with both hashes. */
function echoTransfer(port: number, size: number, onProgress?: (received: number) => void) {
  return new Promise<{ sent: string; got: string; received: number }>((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const hs = createHash('sha256');
    const hr = createHash('sha256');
    let received = 0;
    let sent = 0;
    const chunk = 64 * 1024;
    const pump = () => {
      while (sent < size) {
        const b = randomBytes(Math.min(chunk, size - sent));
        hs.update(b);
        sent += b.length;
        if (!sock.write(b)) return void sock.once('drain', pump);
      }
      sock.end();
    };
    sock.on('connect', pump);
    sock.on('data', (d: Buffer) => {
      hr.update(d);
      received += d.length;
      onProgress?.(received);
    });
    sock.on('end', () => resolve({ sent: hs.digest('hex'), got: hr.digest('hex'), received }));
    sock.on('error', reject);
  });
}

test('a stream that starts on the relay moves to the direct path mid-transfer, byte-exact (64 MB echoed)', { timeout: 120_000 }, async () => {
  // The relay (sealed records over TCP) outruns 64 MB in the punch's 1.5 s on a quiet machine: a
  // rate limit at the rendezvous keeps the transfer well under way on the relay when the session moves.
  const lab = await startLoopbackLab({ relayBytesPerSecond: 8_000_000 });
  const echo = await echoServer();
  // The punch waits 1.5 s on both sides, so the transfer is well under way on the relay when the session moves.
  const provider = startProvider(lab, echo.port, { direct: { options: { startDelayMs: 1500 } } });
  const { visitor, port } = await startVisitor(lab, { direct: { options: { startDelayMs: 1500 } } });
  let closed = false;
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'session-up'), 10_000, 'session');
    let atSwitch = -1;
    let received = 0;
    const size = 64 * 1024 * 1024;
    const done = echoTransfer(port, size, (r) => (received = r));
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'direct-up'), 20_000, 'direct path');
    atSwitch = received;
    const r = await done;
    assert.equal(r.received, size);
    assert.equal(r.got, r.sent, 'byte-exact through the switch');
    assert.ok(atSwitch > 0 && atSwitch < size, `the switch happened mid-transfer (at ${atSwitch} bytes)`);
    const conn = lab.logs.find((l) => l.component === 'visitor' && l.event === 'connection');
    assert.equal(conn?.fields['path'], 'relay', 'the connection started on the relay');
    const session = visitor.currentSession!;
    assert.equal(session.currentPath?.kind, 'direct');
    assert.equal(session.stats.pathSwitches, 1);
    // The relay counts its bytes when it ends: end it, then check it carried
    // the start of the transfer and not the rest (each byte crosses twice, out
    // and echoed back; the slack covers what was in flight at the switch and
    // the per-packet overhead).
    closed = true;
    await lab.close();
    await waitFor(() => lab.logs.some((l) => l.component === 'rendezvous' && l.event === 'relay-end'), 5_000, 'relay-end');
    const relayed = lab.rendezvous.stats.relayBytes;
    assert.ok(relayed > atSwitch, `the relay carried the start of the transfer (${relayed} bytes relayed, ${atSwitch} echoed before the switch)`);
    assert.ok(relayed < 2 * atSwitch * 1.1 + 16 * 1024 * 1024, `the rest went direct (${relayed} bytes relayed, ${atSwitch} echoed before the switch)`);
  } finally {
    visitor.stop();
    provider.stop();
    if (!closed) await lab.close();
    echo.close();
  }
});

test('once direct, the transfer survives the rendezvous going away, and new connections still work', { timeout: 120_000 }, async () => {
  const lab = await startLoopbackLab();
  const echo = await echoServer();
  const provider = startProvider(lab, echo.port);
  const { visitor, port } = await startVisitor(lab);
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'direct-up'), 20_000, 'direct path');
    const session = visitor.currentSession;
    assert.equal(session?.currentPath?.kind, 'direct');
    let closedAt = -1;
    const done = echoTransfer(port, 64 * 1024 * 1024, (r) => {
      if (closedAt < 0 && r > 8 * 1024 * 1024) {
        closedAt = r;
        void lab.close(); // the rendezvous, its relay links and its STUN ports all go
      }
    });
    const r = await done;
    assert.ok(closedAt > 0 && closedAt < r.received, `the rendezvous was closed mid-transfer (at ${closedAt} bytes)`);
    assert.equal(r.received, 64 * 1024 * 1024);
    assert.equal(r.got, r.sent);
    assert.ok(lab.logs.some((l) => l.event === 'rendezvous-lost' || l.event === 'relay-lost'));
    // The same session, still direct, carries new connections.
    const again = await echoTransfer(port, 1024 * 1024);
    assert.equal(again.got, again.sent);
    assert.equal(visitor.currentSession, session, 'no new session was needed');
    assert.equal(session?.currentPath?.kind, 'direct');
    assert.ok(!session?.closed);
  } finally {
    visitor.stop();
    provider.stop();
    echo.close();
  }
});

test('--relay never without a direct path: connections are refused and the log says why', { timeout: 60_000 }, async () => {
  const lab = await startLoopbackLab();
  lab.rendezvous.udp?.close(); // no STUN answers: both sides look UDP-blocked
  const echo = await echoServer();
  const provider = startProvider(lab, echo.port);
  const { visitor, port } = await startVisitor(lab, { relay: 'never', waitTimeoutMs: 2000 });
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'punch-failed'), 20_000, 'punch-failed');
    const failed = lab.logs.find((l) => l.component === 'visitor' && l.event === 'punch-failed')!;
    assert.match(String(failed.fields['reason']), /UDP is blocked/);
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'session-closed'), 10_000, 'session-closed');
    const closed = lab.logs.find((l) => l.component === 'visitor' && l.event === 'session-closed')!;
    assert.match(String(closed.fields['reason']), /no direct path.*--relay never/);
    // A connection now: held for the wait time, then reset; nothing reaches the service.
    const t0 = Date.now();
    const outcome = await new Promise<{ error: string | null; data: number }>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let data = 0;
      let error: string | null = null;
      sock.on('connect', () => sock.write('GET / HTTP/1.0\r\n\r\n'));
      sock.on('data', (d: Buffer) => (data += d.length));
      sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      sock.on('close', () => resolve({ error, data }));
      sock.setTimeout(10_000, () => sock.destroy(new Error('still open after 10 s')));
    });
    const heldMs = Date.now() - t0;
    assert.equal(outcome.error, 'ECONNRESET', 'the visitor resets the connection');
    assert.equal(outcome.data, 0);
    assert.ok(heldMs >= 1500, `held for the wait time first (${heldMs} ms)`);
    const dropped = lab.logs.find((l) => l.component === 'visitor' && l.event === 'connection-dropped');
    assert.match(String(dropped?.fields['reason']), /no tunnel to the provider/);
    assert.equal(echo.connections(), 0, 'nothing reached the service');
    assert.equal(lab.rendezvous.stats.relayBytes, 0);
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
    echo.close();
  }
});

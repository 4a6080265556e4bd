/**
 * xtcp on loopback with real sockets: a live session moves from the relay to
 * the direct path with its streams, survives the rendezvous going away, and
 * `--relay never` fails clearly when there is no direct path.
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
  const lab = await startLoopbackLab();
  const echo = await echoServer();
  // The punch waits 1.5 s on both sides, so the transfer is well under way on the relay when the session moves.
  const provider = startProvider(lab, echo.port, { direct: { options: { startDelayMs: 1500 } } });
  const { visitor, port } = await startVisitor(lab, { direct: { options: { startDelayMs: 1500 } } });
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'session-up'), 10_000, 'session');
    let atSwitch = -1;
    let received = 0;
    const done = echoTransfer(port, 64 * 1024 * 1024, (r) => (received = r));
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'direct-up'), 20_000, 'direct path');
    atSwitch = received;
    const r = await done;
    assert.equal(r.received, 64 * 1024 * 1024);
    assert.equal(r.got, r.sent, 'byte-exact through the switch');
    assert.ok(atSwitch > 0 && atSwitch < 64 * 1024 * 1024, `the switch happened mid-transfer (at ${atSwitch} bytes)`);
    const conn = lab.logs.find((l) => l.component === 'visitor' && l.event === 'connection');
    assert.equal(conn?.fields['path'], 'relay', 'the connection started on the relay');
    const session = visitor.currentSession!;
    assert.equal(session.currentPath?.kind, 'direct');
    assert.equal(session.stats.pathSwitches, 1);
    const relayEnd = lab.rendezvous.stats.relayBytes;
    assert.ok(relayEnd >= 0);
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
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
    let closedAt = -1;
    let received = 0;
    const done = echoTransfer(port, 64 * 1024 * 1024, (r) => {
      received = r;
      if (closedAt < 0 && r > 8 * 1024 * 1024) {
        closedAt = r;
        void lab.close(); // the rendezvous, its relay links and its STUN ports all go
      }
    });
    const r = await done;
    assert.ok(closedAt > 0, 'the rendezvous was closed mid-transfer');
    assert.equal(r.received, 64 * 1024 * 1024);
    assert.equal(r.got, r.sent);
    assert.ok(received === r.received);
    // The session is still direct and still carries new connections.
    const again = await echoTransfer(port, 1024 * 1024);
    assert.equal(again.got, again.sent);
    assert.ok(lab.logs.some((l) => l.event === 'rendezvous-lost' || l.event === 'relay-lost'));
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
  const { visitor, port } = await startVisitor(lab, { relay: 'never' });
  try {
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'punch-failed'), 20_000, 'punch-failed');
    const failed = lab.logs.find((l) => l.component === 'visitor' && l.event === 'punch-failed')!;
    assert.match(String(failed.fields['reason']), /UDP is blocked/);
    await waitFor(() => lab.logs.some((l) => l.component === 'visitor' && l.event === 'session-closed'), 10_000, 'session-closed');
    const closed = lab.logs.find((l) => l.component === 'visitor' && l.event === 'session-closed')!;
    assert.match(String(closed.fields['reason']), /no direct path.*--relay never/);
    assert.equal(lab.rendezvous.stats.relayBytes, 0);
    void port;
  } finally {
    visitor.stop();
    provider.stop();
    await lab.close();
    echo.close();
  }
});

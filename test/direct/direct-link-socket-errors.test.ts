/**
 * DirectLink and the errors of its UDP sockets (two real DirectLinks on the
 * in-process network, fake clock). Errors used to be swallowed by an empty
 * handler; now each is counted and logged with its reason, and one that says
 * the socket is gone ends the attempt or the path: back to the relay, punch
 * again with a fresh socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errnoError, startLab, type Lab } from './direct-link-harness.js';

async function untilLocked(lab: Lab, count: number, maxMs = 10_000): Promise<void> {
  const ok = await lab.topo.scheduler.runUntil(() => lab.events('initiator', 'direct-up').length >= count && lab.events('responder', 'direct-up').length >= count, {
    maxTime: lab.topo.scheduler.now() + maxMs,
  });
  assert.ok(ok, `no lock #${count}: ${JSON.stringify(lab.logs.map((l) => `${l.role} ${l.event}`))}`);
}

test('the two links lock a direct path on the in-process network (the harness works)', async () => {
  const lab = startLab(1);
  try {
    lab.initiator.link.start();
    await untilLocked(lab, 1);
    assert.equal(lab.initiator.link.directPath?.kind, 'direct');
    assert.deepEqual(lab.initiator.paths, [{ kind: 'direct', previousDied: false }]);
  } finally {
    lab.close();
  }
});

test('a fatal error on the session socket during a punch ends the attempt with that reason; the retry punches again', async () => {
  const lab = startLab(2);
  try {
    lab.initiator.link.start();
    // Run until the initiator's punch has started, then break its socket.
    await lab.topo.scheduler.runUntil(() => lab.events('initiator', 'punch-start').length === 1, { maxTime: 5000 });
    const socket = lab.initiator.sockets[0]!;
    socket.raise(errnoError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running'));
    const err = lab.events('initiator', 'socket-error');
    assert.equal(err.length, 1);
    assert.equal(err[0]!.fields['code'], 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    assert.equal(err[0]!.fields['fatal'], true);
    assert.equal(err[0]!.fields['socket'], 'session');
    const failed = lab.events('initiator', 'punch-failed');
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!.fields['reason']), /session socket failed \(ERR_SOCKET_DGRAM_NOT_RUNNING: Not running\)/);
    assert.equal(socket.closed, true, 'the broken socket is closed');
    assert.deepEqual(lab.initiator.link.socketErrors, { total: 1, fatal: 1 });
    // The retry (500 ms) opens a fresh socket and locks.
    await untilLocked(lab, 1);
    assert.ok(lab.initiator.sockets.length >= 2);
    assert.equal(lab.initiator.link.directPath !== null, true);
  } finally {
    lab.close();
  }
});

test('a fatal error on the locked path: back to the relay, a fresh punch, direct again', async () => {
  const lab = startLab(3);
  try {
    lab.initiator.link.start();
    await untilLocked(lab, 1);
    const pathSocket = lab.initiator.sockets.find((s) => !s.closed)!;
    const lost: string[] = [];
    lab.initiator.link.on('lost', (reason: string) => lost.push(reason));
    pathSocket.raise(errnoError('EBADF', 'bad file descriptor'));
    assert.equal(lost.length, 1);
    assert.match(lost[0]!, /direct path's socket failed \(EBADF: bad file descriptor\)/);
    const dl = lab.events('initiator', 'direct-lost');
    assert.equal(dl[0]?.fields['fallback'], 'relay');
    assert.equal(lab.initiator.link.directPath, null);
    assert.deepEqual(lab.initiator.paths.at(-1), { kind: 'relay', previousDied: true });
    assert.equal(pathSocket.closed, true);
    await untilLocked(lab, 2);
    assert.deepEqual(lab.initiator.paths.at(-1), { kind: 'direct', previousDied: true });
  } finally {
    lab.close();
  }
});

test('per-datagram errors (ICMP unreachable, a firewall) are counted and logged sparingly; the path stays up', async () => {
  const lab = startLab(4);
  try {
    lab.initiator.link.start();
    await untilLocked(lab, 1);
    const pathSocket = lab.initiator.sockets.find((s) => !s.closed)!;
    for (let i = 0; i < 100; i++) pathSocket.raise(errnoError('EHOSTUNREACH', 'No route to host'));
    pathSocket.raise(errnoError('EPERM', 'Operation not permitted'));
    assert.deepEqual(lab.initiator.link.socketErrors, { total: 101, fatal: 0 });
    const logged = lab.events('initiator', 'socket-error').map((l) => `${String(l.fields['code'])} #${String(l.fields['count'])}`);
    assert.deepEqual(logged, ['EHOSTUNREACH #1', 'EHOSTUNREACH #10', 'EHOSTUNREACH #100', 'EPERM #1']);
    assert.equal(lab.events('initiator', 'socket-error')[0]!.fields['reason'], 'EHOSTUNREACH: No route to host');
    assert.equal(lab.events('initiator', 'direct-lost').length, 0);
    assert.notEqual(lab.initiator.link.directPath, null);
  } finally {
    lab.close();
  }
});

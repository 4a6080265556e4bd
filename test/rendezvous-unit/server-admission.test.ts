/** The rendezvous's bound on connections that have not proven themselves yet (loopback). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { RendezvousServer } from '../../rendezvous/server.js';
import { ControlFrameDecoder } from '../../src/control/frame.js';
import { Logger } from '../../src/log/logger.js';
import { LoopbackPeer } from './loopback-peer.js';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A raw connection; resolves with whether the server sent a challenge (true) or hung up (false). */
async function raw(port: number): Promise<{ socket: net.Socket; challenged: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  const decoder = new ControlFrameDecoder();
  const challenged = await new Promise<boolean>((resolve) => {
    socket.on('data', (c: Buffer) => {
      if (decoder.push(c).length > 0) resolve(true);
    });
    socket.on('close', () => resolve(false));
  });
  return { socket, challenged };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

describe('unauthenticated connections', { timeout: 30_000 }, () => {
  it('at most maxUnauthenticated wait at once; logging in, being refused or leaving frees the slot exactly once', async () => {
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), limits: { maxUnauthenticated: 2 } });
    cleanups.push(() => server.close());
    const { port } = await server.listen();

    const a = await raw(port);
    const b = await raw(port);
    assert.ok(a.challenged && b.challenged);
    assert.equal(server.stats.unauthenticated, 2);
    assert.equal((await raw(port)).challenged, false, 'a third waits nowhere: it is closed');

    a.socket.destroy();
    await until(() => server.stats.unauthenticated === 1, 'a leaving frees its slot');
    const peer = await LoopbackPeer.login(port, 'tok', 'visitor');
    cleanups.push(() => peer.close());
    assert.equal(server.stats.unauthenticated, 1, 'a logged-in peer holds no slot');
    await assert.rejects(LoopbackPeer.login(port, 'wrong', 'visitor'), /no "welcome"|closed|ECONNRESET/);
    await until(() => server.stats.unauthenticated === 1, 'a refused login frees its slot');
    peer.close();
    b.socket.destroy();
    await until(() => server.stats.unauthenticated === 0 && server.stats.connections === 0, 'everything gone');
    // Room for exactly two again.
    assert.ok((await raw(port)).challenged);
    assert.ok((await raw(port)).challenged);
    assert.equal((await raw(port)).challenged, false);
  });
});

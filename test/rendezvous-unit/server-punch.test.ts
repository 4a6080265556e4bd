/**
 * The rendezvous's punch brokering, end to end over loopback: only a
 * session's two peers may offer candidates for it, and sessions whose peers
 * are gone are forgotten, so a long-lived session is not evicted by the
 * churn of finished ones.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { CandidateMessage } from '../../src/control/messages.js';
import { Logger } from '../../src/log/logger.js';
import { B64, LoopbackPeer, sessionId } from './loopback-peer.js';

const TOKEN = 'tok';
const quiet = () => new Logger({ level: 'error' });
const servers: RendezvousServer[] = [];
const peers: LoopbackPeer[] = [];
after(async () => {
  for (const p of peers) p.close();
  for (const s of servers) await s.close();
});

async function start(limits: ConstructorParameters<typeof RendezvousServer>[0]['limits'] = {}): Promise<{ server: RendezvousServer; port: number }> {
  const server = new RendezvousServer({ host: '127.0.0.1', port: 0, token: TOKEN, logger: quiet(), limits });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port };
}

async function login(port: number, role: 'provider' | 'visitor'): Promise<LoopbackPeer> {
  const p = await LoopbackPeer.login(port, TOKEN, role);
  peers.push(p);
  return p;
}

/** Runs a session's setup through the rendezvous up to the confirm that lets the two punch. */
async function establish(provider: LoopbackPeer, visitor: LoopbackPeer, connId: string): Promise<void> {
  visitor.send({ type: 'connect', connId, service: 'svc', hello: B64 });
  await provider.next('incoming', 5000, (m) => m.connId === connId);
  provider.send({ type: 'accept', connId, reply: B64 });
  await visitor.next('reply', 5000, (m) => m.connId === connId);
  visitor.send({ type: 'confirm', connId, confirm: B64, direct: true });
  await provider.next('confirm', 5000, (m) => m.connId === connId);
}

/** Resolves once the server has handled everything `peer` sent before (it answers in order). */
async function barrier(peer: LoopbackPeer, t: number): Promise<void> {
  peer.send({ type: 'ping', t });
  await peer.next('pong', 5000, (m) => m.t === t);
}

const cand = (port: number): CandidateMessage[] => [{ kind: 'srflx', address: '203.0.113.9', port }];

describe('punch brokering at the rendezvous (loopback)', { timeout: 120_000 }, () => {
  it('an offer from a third peer for someone else\'s session is ignored; the two peers still get each other\'s candidates', async () => {
    const { server, port } = await start();
    const provider = await login(port, 'provider');
    provider.send({ type: 'register', services: ['svc'] });
    await provider.next('registered');
    const visitor = await login(port, 'visitor');
    const stranger = await login(port, 'visitor');
    const S = sessionId(1);
    await establish(provider, visitor, S);

    stranger.send({ type: 'offer', connId: S, attempt: 0, candidates: cand(6666) });
    await barrier(stranger, 1);
    await barrier(provider, 2);
    assert.equal(provider.count('punch-request'), 0, 'the stranger\'s offer must not reach the provider');
    assert.equal(stranger.count('punch'), 0, 'and the stranger hears nothing about the session');

    visitor.send({ type: 'offer', connId: S, attempt: 0, candidates: cand(1111) });
    const req = await provider.next('punch-request');
    assert.deepEqual(req, { type: 'punch-request', connId: S, attempt: 0 });
    provider.send({ type: 'offer', connId: S, attempt: 0, candidates: cand(2222) });
    const toVisitor = await visitor.next('punch');
    const toProvider = await provider.next('punch');
    assert.deepEqual(toVisitor.candidates, cand(2222));
    assert.deepEqual(toProvider.candidates, cand(1111), 'the provider punches towards the visitor, not the stranger');
    await barrier(stranger, 3);
    assert.equal(stranger.count('punch'), 0);
    assert.equal(server.stats.punchOffersIgnored, 1);
  });

  it('a session older than the broker\'s capacity re-punches successfully once the sessions after it have ended', async () => {
    // 4096 is the broker's capacity; 5 × 1000 finished sessions come and go after S.
    const { server, port } = await start({ maxPendingPerVisitor: 2000, maxPending: 4096, pendingTimeoutMs: 300_000 });
    const provider = await login(port, 'provider');
    provider.send({ type: 'register', services: ['svc'] });
    await provider.next('registered');
    // The provider accepts every incoming session at once.
    provider.conn.on('message', (m) => {
      if (m.type === 'incoming') provider.send({ type: 'accept', connId: m.connId, reply: B64 });
    });
    const visitor = await login(port, 'visitor');
    const S = sessionId(0xffff_ffff);
    await establish(provider, visitor, S);
    provider.inbox.length = 0;

    let next = 1;
    for (let batch = 0; batch < 5; batch++) {
      const v = await login(port, 'visitor');
      let confirmed = 0;
      v.conn.on('message', (m) => {
        if (m.type === 'reply') {
          v.send({ type: 'confirm', connId: m.connId, confirm: B64, direct: true });
          confirmed++;
        }
      });
      for (let i = 0; i < 1000; i++) v.send({ type: 'connect', connId: sessionId(next++), service: 'svc', hello: B64 });
      const deadline = Date.now() + 30_000;
      while (confirmed < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(confirmed, 1000, `batch ${batch}: all sessions set up`);
      await barrier(v, batch);
      // This visitor is done: its sessions are over.
      v.close();
      const gone = Date.now() + 5000;
      while (server.stats.peers > 2 && Date.now() < gone) await new Promise((r) => setTimeout(r, 5));
      assert.equal(server.stats.peers, 2, 'the rendezvous saw the visitor go');
      await barrier(provider, 100 + batch);
      provider.inbox.length = 0;
    }

    visitor.send({ type: 'offer', connId: S, attempt: 1, candidates: cand(1111) });
    const req = await provider.next('punch-request', 5000, (m) => m.connId === S);
    assert.equal(req.attempt, 1);
    provider.send({ type: 'offer', connId: S, attempt: 1, candidates: cand(2222) });
    const punch = await visitor.next('punch', 5000, (m) => m.connId === S);
    assert.equal(punch.reason, undefined, `the rendezvous still knows the session (${punch.reason ?? ''})`);
    assert.deepEqual(punch.candidates, cand(2222));
  });
});

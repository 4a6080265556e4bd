/**
 * The server's heartbeat over loopback, with its timers shrunk: a peer that
 * pings gets pongs and only the rare RTT ping, one that does not is pinged
 * every tick (it must hear from the server), and a silent one is dropped.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RendezvousServer } from '../../rendezvous/server.js';
import { Logger } from '../../src/log/logger.js';
import { LoopbackPeer } from './loopback-peer.js';

const TOKEN = 'tok';
const servers: RendezvousServer[] = [];
const peers: LoopbackPeer[] = [];
after(async () => {
  for (const p of peers) p.close();
  for (const s of servers) await s.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rendezvous server heartbeat (loopback)', { timeout: 30_000 }, () => {
  it('pings a pinging peer only to refresh its RTT, a quiet one every tick, and drops a silent one', async () => {
    const server = new RendezvousServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      logger: new Logger({ level: 'error' }),
      limits: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1500, rttRefreshMs: 600 },
    });
    servers.push(server);
    const { port } = await server.listen();
    const chatty = await LoopbackPeer.login(port, TOKEN, 'provider');
    const quiet = await LoopbackPeer.login(port, TOKEN, 'visitor');
    peers.push(chatty, quiet);
    // The chatty peer pings every 30 ms (a peer's 5 s against the server's 10 s tick, scaled); the quiet one sends nothing.
    let t = 0;
    const pinger = setInterval(() => chatty.send({ type: 'ping', t: ++t }), 30);
    try {
      await sleep(1300);
    } finally {
      clearInterval(pinger);
    }
    // Login's ping, then one per 600 ms refresh (a tick of lateness allowed): 2-4. Every tick would be about 13.
    const chattyPings = chatty.count('ping');
    assert.ok(chattyPings >= 2 && chattyPings <= 4, `the pinging peer got ${chattyPings} server pings in 1.3 s`);
    assert.ok(chatty.count('pong') >= 20, `and ${chatty.count('pong')} pongs`);
    const quietPings = quiet.count('ping');
    assert.ok(quietPings >= 8, `the quiet peer got ${quietPings} server pings in 1.3 s (one per 100 ms tick)`);
    assert.equal(server.stats.peers, 2, 'the quiet peer is not dropped before the timeout');
    // The quiet one never answered: gone after the 1.5 s timeout; the chatty one (still pinging) stays.
    const start = Date.now();
    const keep = setInterval(() => chatty.send({ type: 'ping', t: ++t }), 30);
    try {
      while (server.stats.peers > 1 && Date.now() - start < 5000) await sleep(20);
    } finally {
      clearInterval(keep);
    }
    assert.equal(server.stats.peers, 1, 'the silent peer was dropped');
    assert.deepEqual(server.stats.peersByRole, { provider: 1, visitor: 0 });
  });
});

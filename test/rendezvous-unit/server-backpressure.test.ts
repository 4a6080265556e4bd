/**
 * A logged-in control client that never reads cannot make the rendezvous
 * queue without end: past the per-connection bound it is cut off (loopback).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { RendezvousServer } from '../../rendezvous/server.js';
import { encodeControlFrame, MAX_CONTROL_FRAME } from '../../src/control/frame.js';
import { Logger } from '../../src/log/logger.js';
import { nodeStreamTransport } from '../../src/net/node-stream-transport.js';
import type { StreamSocket, StreamTransport } from '../../src/net/stream-transport.js';
import { LoopbackPeer } from './loopback-peer.js';

const LIMIT = 64 * 1024;
/** Pings the client sends at most before the test calls it: the server must have cut it off long before. */
const FLOOD_BYTES = 48 * 1024 * 1024;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('control connection back-pressure at the rendezvous', { timeout: 120_000 }, () => {
  it('a logged-in client that never reads while the server answers its flood of pings is dropped; the server\'s queue stays bounded', async () => {
    // The server's accepted sockets, to watch what it queues for the client.
    const accepted: StreamSocket[] = [];
    const transport: StreamTransport = {
      connect: (o) => nodeStreamTransport.connect(o),
      createServer: (o, onConnection) =>
        nodeStreamTransport.createServer(o, (s) => {
          accepted.push(s);
          onConnection(s);
        }),
    };
    const events: string[] = [];
    const logger = new Logger({ level: 'info', format: 'json', sink: { write: (line: string) => void events.push(String((JSON.parse(line) as { event: unknown }).event)) } });
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0, token: 'tok', logger, transport, limits: { maxControlQueueBytes: LIMIT } });
    cleanups.push(() => server.close());
    const { port } = await server.listen();
    const client = await LoopbackPeer.login(port, 'tok', 'visitor');
    cleanups.push(() => client.close());
    const serverSide = accepted[0]!;
    let serverClosed = false;
    serverSide.once('close', () => (serverClosed = true));

    // From now on the client reads nothing, and asks for a pong 1000 times a write.
    const socket = client.conn.socket;
    socket.pause();
    socket.on('error', () => {});
    const burst = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeControlFrame({ type: 'ping', t: i })));
    let sent = 0;
    let peakQueued = 0;
    const deadline = Date.now() + 60_000;
    while (!serverClosed && !socket.destroyed && sent < FLOOD_BYTES && Date.now() < deadline) {
      // once() rejects when the socket errors: the server resetting us is the outcome this test waits for.
      if (!socket.write(burst)) await Promise.race([once(socket, 'drain').catch(() => undefined), once(socket, 'close').catch(() => undefined), new Promise((r) => setTimeout(r, 200))]);
      sent += burst.length;
      peakQueued = Math.max(peakQueued, serverSide.writableLength);
      await new Promise((r) => setImmediate(r));
    }
    const waitClose = Date.now() + 5000;
    while (!serverClosed && Date.now() < waitClose) await new Promise((r) => setTimeout(r, 10));

    assert.ok(serverClosed, `the server must drop a client that does not read (it queued ${peakQueued} bytes for it after ${sent} bytes of pings)`);
    assert.ok(peakQueued <= LIMIT + MAX_CONTROL_FRAME, `queued ${peakQueued} bytes for the client; the bound is ${LIMIT}`);
    assert.ok(events.includes('peer-not-reading'), 'the drop is logged');
    assert.equal(server.stats.controlOverflows, 1);
    assert.ok(server.stats.controlQueuePeak <= LIMIT, `peak ${server.stats.controlQueuePeak}`);

    // The rendezvous carries on for everyone else.
    const other = await LoopbackPeer.login(port, 'tok', 'provider');
    cleanups.push(() => other.close());
    other.send({ type: 'ping', t: 7 });
    assert.equal((await other.next('pong')).t, 7);
  });
});

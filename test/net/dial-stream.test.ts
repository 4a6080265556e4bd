import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { realScheduler } from '../../src/clock/scheduler.js';
import { isBurrowError } from '../../src/errors.js';
import { dialStream } from '../../src/net/dial-stream.js';
import { HAPPY_EYEBALLS_TIMERS } from '../../src/net/happy-eyeballs.js';
import { nodeStreamTransport } from '../../src/net/node-stream-transport.js';
import type { StreamSocket, StreamTransport } from '../../src/net/stream-transport.js';

/** A connection attempt that never completes (a SYN into a black hole). */
class BlackHole extends PassThrough {
  setNoDelay(): this {
    return this;
  }
  resetAndDestroy(): this {
    return this.destroy();
  }
}

/** Real TCP, except to the `dead` addresses: those attempts hang forever. */
function withBlackHole(dead: string[], made: BlackHole[]): StreamTransport {
  return {
    connect: (opts) => {
      if (!dead.includes(opts.host)) return nodeStreamTransport.connect(opts);
      const s = new BlackHole();
      made.push(s);
      return s as unknown as StreamSocket;
    },
    createServer: nodeStreamTransport.createServer,
  };
}

let server: net.Server;
let port: number;
const accepted: net.Socket[] = [];

before(async () => {
  server = net.createServer((s) => {
    accepted.push(s);
    s.end('hello');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

after(() => {
  for (const s of accepted) s.destroy();
  server.close();
});

async function readAll(s: StreamSocket): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('dialStream: Happy Eyeballs on loopback', () => {
  it('a name whose first address is dead connects through the second within ~300 ms, and drops the dead attempt', async () => {
    const holes: BlackHole[] = [];
    const t0 = performance.now();
    const dial = dialStream(
      { transport: withBlackHole(['::1'], holes), scheduler: realScheduler, lookup: async () => ['127.0.0.1', '::1'] },
      { host: 'rv.test', port },
    );
    const s = await dial.socket;
    const ms = performance.now() - t0;
    assert.equal(s.remoteAddress, '127.0.0.1');
    assert.ok(ms >= HAPPY_EYEBALLS_TIMERS.attemptDelayMs - 5, `IPv6 was tried first and given its delay (${ms.toFixed(0)} ms)`);
    assert.ok(ms < 400, `connected in ${ms.toFixed(0)} ms`);
    assert.equal(holes.length, 1);
    assert.equal(holes[0]!.destroyed, true, 'the losing attempt is destroyed');
    assert.equal(await readAll(s), 'hello');
  });

  it('a refused first address costs no delay: the next starts at once', async () => {
    // ::1 has nothing listening on the port: the kernel refuses at once.
    const t0 = performance.now();
    const dial = dialStream({ transport: nodeStreamTransport, scheduler: realScheduler, lookup: async () => ['::1', '127.0.0.1'] }, { host: 'rv.test', port });
    const s = await dial.socket;
    const ms = performance.now() - t0;
    assert.equal(s.remoteAddress, '127.0.0.1');
    assert.ok(ms < HAPPY_EYEBALLS_TIMERS.attemptDelayMs, `connected in ${ms.toFixed(0)} ms`);
    assert.equal(await readAll(s), 'hello');
  });

  it('fails with ERR_CONNECT_FAILED naming every address when all fail', async () => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dial = dialStream({ transport: nodeStreamTransport, scheduler: realScheduler, lookup: async () => ['127.0.0.1', '::1'] }, { host: 'rv.test', port: free });
    await assert.rejects(dial.socket, (err: unknown) => {
      assert.ok(isBurrowError(err) && err.code === 'ERR_CONNECT_FAILED');
      assert.match(err.message, /\[::1\]: ECONNREFUSED/);
      assert.match(err.message, /127\.0\.0\.1: ECONNREFUSED/);
      return true;
    });
  });

  it('a failed lookup rejects with the name and the resolver code', async () => {
    const dial = dialStream(
      {
        transport: nodeStreamTransport,
        scheduler: realScheduler,
        lookup: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })),
      },
      { host: 'nowhere.test', port },
    );
    await assert.rejects(dial.socket, /cannot resolve nowhere\.test \(ENOTFOUND\)/);
    const empty = dialStream({ transport: nodeStreamTransport, scheduler: realScheduler, lookup: async () => [] }, { host: 'nowhere.test', port });
    await assert.rejects(empty.socket, /no IPv4 or IPv6 address/);
  });

  it('cancel destroys every running attempt and rejects', async () => {
    const holes: BlackHole[] = [];
    const dial = dialStream(
      { transport: withBlackHole(['::1', '127.0.0.2'], holes), scheduler: realScheduler, lookup: async () => ['::1', '127.0.0.2'] },
      { host: 'rv.test', port },
    );
    await new Promise((r) => setTimeout(r, HAPPY_EYEBALLS_TIMERS.attemptDelayMs + 50));
    dial.cancel();
    await assert.rejects(dial.socket, /cancelled/);
    assert.equal(holes.length, 2, 'both addresses were being tried');
    assert.ok(holes.every((h) => h.destroyed));
  });

  it('an IP literal connects directly, as StreamTransport.connect does', async () => {
    const dial = dialStream({ transport: nodeStreamTransport, scheduler: realScheduler, lookup: () => Promise.reject(new Error('must not resolve')) }, { host: '127.0.0.1', port });
    assert.equal(await readAll(await dial.socket), 'hello');
  });
});

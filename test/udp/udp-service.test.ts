/**
 * UDP services end to end, in process, on loopback with real sockets: a
 * rendezvous, a provider of a UDP echo service and a visitor (the API),
 * in xtcp (direct path) and stcp (relay) modes.
 */
import { udp } from '../support/udp.js';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { BurrowError, Logger, startProvider, startRendezvous, startVisitor, type PathEvent } from '../../api/index.js';
import type { RunningProvider } from '../../api/provider.js';
import type { RunningRendezvous } from '../../api/rendezvous.js';
import type { RunningVisitor } from '../../api/visitor.js';
import { parseScrape, promtoolCheck, promtoolMissing, total } from '../metrics/scrape.js';

type Line = Record<string, unknown>;

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = new Logger({
    format: 'json',
    level: 'debug',
    sink: {
      write(l: string) {
        lines.push(JSON.parse(l) as Line);
        if (process.env['BURROW_TEST_LOG']) process.stderr.write(l);
      },
    },
  });
  return { logger, lines };
}


/** A UDP echo server that counts what it got. */
async function echoServer(): Promise<{ socket: Socket; port: number; received: () => number }> {
  let n = 0;
  const socket = await udp((s, m, r) => {
    n++;
    s.send(m, r.port, r.address);
  });
  return { socket, port: (socket.address() as AddressInfo).port, received: () => n };
}

/** Random bytes the datagrams are cut from: each seq starts at its own offset, so no two are alike. */
const POOL = randomBytes(65_536 + 4096);

/** The bytes of datagram `seq` of length `len`: its number, then a slice of POOL chosen by it. */
function datagram(seq: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  b.writeUInt32BE(seq, 0);
  const from = (seq * 7919) % 4096;
  POOL.copy(b, 4, from, from + len - 4);
  return b;
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

interface Rig {
  rendezvous: RunningRendezvous;
  provider: RunningProvider;
  visitor: RunningVisitor;
  echo: Awaited<ReturnType<typeof echoServer>>;
  lines: Line[];
  stop(): Promise<void>;
}

const rigs: Rig[] = [];
after(async () => {
  for (const r of rigs.splice(0)) await r.stop();
});

async function rig(mode: 'xtcp' | 'stcp', udpOpts: { udpIdleSeconds?: number; udpFlows?: number } = {}): Promise<Rig> {
  const { logger, lines } = capture();
  const token = randomBytes(16).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const echo = await echoServer();
  const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token, ...(mode === 'stcp' ? { udpPort: 'off' as const } : {}) });
  const provider = await startProvider({ server: rendezvous.address, token, mode, logger: logger.child({ side: 'provider' }), services: [{ name: 'echo', secret, to: `127.0.0.1:${echo.port}`, proto: 'udp', ...udpOpts }] });
  const visitor = await startVisitor({ server: rendezvous.address, token, mode, name: 'echo', secret, proto: 'udp', logger: logger.child({ side: 'visitor' }), ...udpOpts });
  const r: Rig = {
    rendezvous,
    provider,
    visitor,
    echo,
    lines,
    async stop() {
      await visitor.stop();
      await provider.stop();
      await rendezvous.stop();
      echo.socket.close();
    },
  };
  rigs.push(r);
  // Wait for the session, and in xtcp for its direct path.
  await within(15_000, 'the session', new Promise<void>((resolve) => {
    const check = () => {
      const s = visitor.sessions[0];
      if (s?.path && (mode === 'stcp' || s.path.kind === 'direct')) resolve();
      else setTimeout(check, 20);
    };
    check();
  }));
  return r;
}

function limitOf(v: RunningVisitor): number {
  const u = v.status().sessions[0]?.udp;
  assert.ok(u?.datagramLimit !== undefined, 'the visitor status shows the session\'s UDP limit');
  return u.datagramLimit;
}

/**
 * Sends `n` datagrams of random sizes 4..limit through the visitor and
 * checks each echo byte for byte. A bounded number of bytes is in flight
 * (loopback socket buffers are small); one not back within 1 s is lost.
 */
async function echoMany(v: RunningVisitor, n: number, limit: number): Promise<{ ok: number; lost: number; dup: number; bad: number }> {
  const client = await udp();
  client.setRecvBufferSize(4 * 1024 * 1024);
  const inFlight = new Map<number, { len: number; at: number }>();
  const seen = new Set<number>();
  let flightBytes = 0;
  const budget = 256 * 1024;
  let next = 0;
  let ok = 0;
  let lost = 0;
  let dup = 0;
  let bad = 0;
  const sizes = Array.from({ length: n }, () => 4 + Math.floor(Math.random() * (limit - 3)));
  return await new Promise((resolve) => {
    const pump = () => {
      while (next < n && (inFlight.size === 0 || flightBytes + (sizes[next] ?? 0) <= budget)) {
        const len = sizes[next] ?? 4;
        inFlight.set(next, { len, at: Date.now() });
        flightBytes += len;
        client.send(datagram(next, len), v.address.port, v.address.host);
        next++;
      }
      if (next >= n && inFlight.size === 0) {
        clearInterval(reaper);
        client.close();
        resolve({ ok, lost, dup, bad });
      }
    };
    client.on('message', (m) => {
      const seq = m.length >= 4 ? m.readUInt32BE(0) : -1;
      if (seen.has(seq)) return void dup++;
      const f = inFlight.get(seq);
      if (f === undefined) return void bad++;
      seen.add(seq);
      inFlight.delete(seq);
      flightBytes -= f.len;
      if (m.length === f.len && m.equals(datagram(seq, f.len))) ok++;
      else bad++;
      pump();
    });
    const reaper = setInterval(() => {
      const now = Date.now();
      for (const [seq, f] of inFlight) {
        if (now - f.at < 1000) continue;
        inFlight.delete(seq);
        flightBytes -= f.len;
        lost++;
      }
      pump();
    }, 100);
    pump();
  });
}

describe('UDP services through burrow (loopback, real sockets)', { timeout: 180_000 }, () => {
  for (const mode of ['xtcp', 'stcp'] as const) {
    it(`${mode}: 10 000 datagrams of random sizes up to the path's limit come back byte-exact, none twice, loss <= 1 %`, async () => {
      const r = await rig(mode);
      const kind = r.visitor.sessions[0]?.path?.kind;
      assert.equal(kind, mode === 'xtcp' ? 'direct' : 'relay');
      const limit = limitOf(r.visitor);
      // Direct on one host: ~16 KiB packets; relay: a UDP datagram's 65507 less the seal.
      assert.ok(mode === 'xtcp' ? limit > 1000 && limit < 65_000 : limit > 60_000, `limit ${limit}`);
      const n = 10_000;
      const res = await echoMany(r.visitor, n, limit);
      assert.equal(res.bad, 0, 'every echo byte-exact');
      assert.equal(res.dup, 0, 'none duplicated');
      assert.ok(res.lost <= n / 100, `lost ${res.lost} of ${n}`);
      assert.equal(res.ok + res.lost, n);
      // The counters saw it: the visitor sent what arrived at the provider and back.
      const st = r.visitor.status();
      const u = st.sessions[0]?.udp;
      assert.ok(u);
      assert.equal(u.flowsOpened, 1, 'one client, one flow');
      assert.ok(u.datagramsSent >= res.ok && u.datagramsReceived >= res.ok, JSON.stringify(u));
      assert.equal(r.echo.received() >= res.ok, true);
      const p = r.provider.status().sessions[0]?.udp;
      assert.ok(p && p.datagramsReceived >= res.ok && p.datagramsSent >= res.ok, JSON.stringify(p));
    });
  }

  it('xtcp: a flow carries on from the relay to the direct path (one flow, every echo whole)', async () => {
    const { logger, lines } = capture();
    const token = randomBytes(16).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const echo = await echoServer();
    const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token });
    const provider = await startProvider({ server: rendezvous.address, token, mode: 'xtcp', services: [{ name: 'echo', secret, to: `127.0.0.1:${echo.port}`, proto: 'udp' }] });
    const visitor = await startVisitor({ server: rendezvous.address, token, mode: 'xtcp', name: 'echo', secret, proto: 'udp', logger });
    const client = await udp();
    try {
      // From the first moment of the session (on the relay) until well after the punch.
      await within(15_000, 'the session', new Promise<void>((resolve) => visitor.once('session', () => resolve())));
      const direct = within(15_000, 'the direct path', new Promise<PathEvent>((resolve) => visitor.on('path', (e) => e.path.kind === 'direct' && resolve(e))));
      const repliesOn = { relay: 0, direct: 0 };
      let bad = 0;
      let seq = 0;
      client.on('message', (m) => {
        const n = m.readUInt32BE(0);
        if (!m.equals(datagram(n, m.length))) bad++;
        const kind = visitor.sessions[0]?.path?.kind;
        if (kind === 'relay' || kind === 'direct') repliesOn[kind]++;
      });
      const sender = setInterval(() => client.send(datagram(seq++, 600), visitor.address.port, '127.0.0.1'), 5);
      await direct;
      await new Promise((res) => setTimeout(res, 300));
      clearInterval(sender);
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(bad, 0);
      assert.ok(repliesOn.relay > 0 && repliesOn.direct > 0, `replies on the relay and then direct: ${JSON.stringify(repliesOn)}`);
      assert.equal(visitor.status().sessions[0]?.udp?.flowsOpened, 1, 'the same flow throughout');
      assert.equal(lines.filter((l) => l['event'] === 'udp-flow').length, 1);
    } finally {
      client.close();
      await visitor.stop();
      await provider.stop();
      await rendezvous.stop();
      echo.socket.close();
    }
  });

  it('stcp: several clients at once get their own replies; a datagram past the limit is dropped, counted and logged; metrics say so', async () => {
    const r = await rig('stcp');
    const clients = await Promise.all([udp(), udp(), udp(), udp()]);
    const replies = clients.map((c) => new Promise<Buffer>((resolve) => c.once('message', resolve)));
    clients.forEach((c, i) => c.send(`from client ${i}`, r.visitor.address.port, '127.0.0.1'));
    const got = await within(5000, 'the replies', Promise.all(replies));
    assert.deepEqual(got.map(String), clients.map((_, i) => `from client ${i}`));

    const limit = limitOf(r.visitor);
    const [a] = clients;
    assert.ok(a);
    const none = new Promise<boolean>((resolve) => {
      a.once('message', () => resolve(true));
      setTimeout(() => resolve(false), 500);
    });
    const before = r.echo.received();
    a.send(Buffer.alloc(limit + 1), r.visitor.address.port, '127.0.0.1');
    assert.equal(await none, false, 'nothing comes back');
    assert.equal(r.echo.received(), before, 'nothing reached the target');
    assert.equal(r.visitor.status().sessions[0]?.udp?.drops.too_big, 1);
    const line = r.lines.find((l) => l['event'] === 'udp-datagram-too-big');
    assert.ok(line, 'a udp-datagram-too-big line');
    assert.equal(line['size'], limit + 1);
    assert.equal(line['limit'], limit);
    assert.match(String(line['note']), /MTU 1280/);

    const text = await r.visitor.metrics().metrics();
    const m = parseScrape(text);
    assert.equal(total(m, 'burrow_visitor_udp_datagrams_total', { direction: 'sent' }), 4);
    assert.equal(total(m, 'burrow_visitor_udp_datagrams_total', { direction: 'received' }), 4);
    assert.equal(total(m, 'burrow_visitor_udp_drops_total', { reason: 'too_big' }), 1);
    assert.equal(total(m, 'burrow_visitor_udp_drops_total', { reason: 'flow_cap' }), 0);
    assert.equal(total(m, 'burrow_visitor_udp_flows'), 4);
    assert.ok((total(m, 'burrow_visitor_udp_bytes_total', { direction: 'sent' }) ?? 0) >= 4 * 'from client 0'.length);
    const pm = parseScrape(await r.provider.metrics().metrics());
    assert.equal(total(pm, 'burrow_provider_udp_flows'), 4, 'one target socket per client');
    if (promtoolMissing() === null) {
      for (const t of [text, await r.provider.metrics().metrics()]) {
        const check = promtoolCheck(t);
        assert.equal(check.status, 0, check.output);
      }
    }
    // The session's end says what it carried.
    await r.visitor.stop();
    const end = r.lines.find((l) => l['event'] === 'session-closed' && l['side'] === 'visitor');
    assert.ok(end, 'a session-closed line');
    assert.equal(end['udpDatagramsSent'], 4);
    assert.equal(end['udpFlows'], 4);
    assert.match(String(end['udpDrops']), /too_big:1/);
    for (const c of clients) c.close();
  });

  it('stcp: the flow cap holds and flows idle out (short settings), each closing with its counts', async () => {
    const r = await rig('stcp', { udpFlows: 2, udpIdleSeconds: 0.5 });
    const clients = await Promise.all([udp(), udp(), udp()]);
    const answered = clients.map(
      (c) =>
        new Promise<boolean>((resolve) => {
          c.once('message', () => resolve(true));
          setTimeout(() => resolve(false), 800);
        }),
    );
    for (const c of clients.slice(0, 2)) c.send('x', r.visitor.address.port, '127.0.0.1');
    await new Promise((res) => setTimeout(res, 200));
    clients[2]?.send('x', r.visitor.address.port, '127.0.0.1');
    assert.deepEqual(await Promise.all(answered), [true, true, false]);
    const u = r.visitor.status().sessions[0]?.udp;
    assert.equal(u?.drops.flow_cap, 1);
    assert.equal(u?.maxFlows, 2);
    assert.ok(r.lines.some((l) => l['event'] === 'udp-flow-refused'));
    // Idle: both flows end on both sides, with their counts logged.
    await within(5000, 'the flows to idle out', new Promise<void>((resolve) => {
      const check = () => (r.visitor.status().sessions[0]?.udp?.flows === 0 && r.provider.status().sessions[0]?.udp?.flows === 0 ? resolve() : setTimeout(check, 50));
      check();
    }));
    const closed = r.lines.filter((l) => l['event'] === 'udp-flow-closed' && l['why'] === 'idle');
    assert.equal(closed.length, 4, 'two flows on each side');
    for (const l of closed) assert.equal(l['datagramsSent'], 1);
    // Room again once they are gone: the third client gets through now.
    const third = clients[2];
    assert.ok(third);
    const reply = new Promise<Buffer>((resolve) => third.once('message', resolve));
    third.send('again', r.visitor.address.port, '127.0.0.1');
    assert.equal(String(await within(3000, 'a reply', reply)), 'again');
    for (const c of clients) c.close();
  });

  it('a wrong secret gets nothing through, and the visitor says so', async () => {
    const { logger, lines } = capture();
    const token = 'tok';
    const echo = await echoServer();
    const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token, udpPort: 'off' });
    const provider = await startProvider({ server: rendezvous.address, token, mode: 'stcp', services: [{ name: 'echo', secret: 'right', to: `127.0.0.1:${echo.port}`, proto: 'udp' }] });
    const visitor = await startVisitor({ server: rendezvous.address, token, mode: 'stcp', name: 'echo', secret: 'wrong', proto: 'udp', logger });
    try {
      const client = await udp();
      const fatal = new Promise<BurrowError>((resolve) => visitor.once('fatal', resolve));
      // Datagrams sent while (and after) the handshake fails go nowhere.
      for (let i = 0; i < 5; i++) client.send('let me in', visitor.address.port, '127.0.0.1');
      const err = await within(10_000, 'the fatal error', fatal);
      assert.equal(err.code, 'ERR_HANDSHAKE_SECRET_MISMATCH');
      assert.match(err.message, /secret/);
      assert.ok(lines.some((l) => l['event'] === 'secret-mismatch'));
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(echo.received(), 0, 'nothing reached the service');
      assert.equal(provider.sessions.length, 0);
      client.close();
    } finally {
      await visitor.stop();
      await provider.stop();
      await rendezvous.stop();
      echo.socket.close();
    }
  });

  it('a proto mismatch is a clear error, both ways round, and no session is set up', async () => {
    const token = 'tok';
    const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token, udpPort: 'off' });
    const provider = await startProvider({
      server: rendezvous.address,
      token,
      mode: 'stcp',
      services: [
        { name: 'tcpsvc', secret: 's', to: '127.0.0.1:9' },
        { name: 'udpsvc', secret: 's', to: '127.0.0.1:9', proto: 'udp' },
      ],
    });
    try {
      for (const [name, proto, says] of [
        ['tcpsvc', 'udp', /"tcpsvc" is a TCP service and the visitor asked for UDP: run the visitor with --proto tcp/],
        ['udpsvc', 'tcp', /"udpsvc" is a UDP service and the visitor asked for TCP: run the visitor with --proto udp/],
      ] as const) {
        const visitor = await startVisitor({ server: rendezvous.address, token, mode: 'stcp', name, secret: 's', proto });
        try {
          const err = await within(10_000, 'the fatal error', new Promise<BurrowError>((resolve) => visitor.once('fatal', resolve)));
          assert.equal(err.code, 'ERR_CONFIG');
          assert.match(err.message, says);
          assert.equal(visitor.state, 'stopped');
        } finally {
          await visitor.stop();
        }
      }
      assert.equal(provider.status().counters.sessionsOpened, 0);
    } finally {
      await provider.stop();
      await rendezvous.stop();
    }
  });
});

/**
 * Virtual TCP (netsim/virtual/tcp.ts): reachability follows the topology,
 * timing follows the links, bytes arrive in order and complete, back-pressure
 * bounds what is in flight, FIN and RST behave like the kernel's, runs repeat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { StreamServer, StreamSocket } from '../../src/net/stream-transport.js';
import { buildTopology, labSite, SERVER_ADDRESSES, type Topology } from '../../netsim/virtual/topology.js';
import { VirtualTcp, type VirtualTcpOptions } from '../../netsim/virtual/tcp.js';
import type { VirtualNode } from '../../netsim/virtual/network.js';

const SERVER = SERVER_ADDRESSES[0];

function lab(opts: Partial<Omit<VirtualTcpOptions, 'nodes'>> = {}, seed = 1): { topo: Topology; tcp: VirtualTcp } {
  const topo = buildTopology({
    seed,
    sites: [labSite('port-restricted-cone', 'a'), labSite('udp-blocked', 'b'), labSite('double-nat', 'c')],
    recordTrace: false,
  });
  const nodes: VirtualNode[] = [topo.core, topo.server];
  for (const s of Object.values(topo.sites)) nodes.push(...[s.carrier, s.nat].filter((n) => n !== null), ...s.hosts);
  return { topo, tcp: new VirtualTcp(topo.network, { nodes, recordTrace: true, ...opts }) };
}

/** A server's close() waits for its connections, whose FINs travel on the virtual clock: drive it meanwhile. */
async function closeServer(srv: StreamServer, topo: Topology): Promise<void> {
  let closed = false;
  const p = srv.close().then(() => (closed = true));
  await topo.scheduler.runUntil(() => closed, { maxTime: topo.scheduler.now() + 10_000 });
  await p;
}

/** Resolves with the error code, or 'connect' when the socket connects. */
function outcome(sock: StreamSocket): Promise<string> {
  return new Promise((resolve) => {
    sock.once('connect', () => resolve('connect'));
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

test('a host behind a NAT connects out; the server sees the NAT public address; connect takes a round trip, accept one and a half', async () => {
  const { topo, tcp } = lab();
  const seen: Array<{ addr: string | undefined; at: number }> = [];
  const server = tcp.transport(topo.server).createServer({}, (s) => {
    seen.push({ addr: s.remoteAddress, at: topo.scheduler.now() });
    s.resume();
    s.end('hi');
  });
  await server.listen(7000, SERVER);
  for (const name of ['a', 'b', 'c']) {
    const t0 = topo.scheduler.now();
    const sock = tcp.transport(topo.site(name).host).connect({ host: SERVER, port: 7000 });
    let connectedAt = -1;
    sock.on('connect', () => (connectedAt = topo.scheduler.now()));
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    let ended = false;
    sock.on('end', () => (ended = true));
    assert.ok(await topo.scheduler.runUntil(() => ended, { maxTime: t0 + 1000 }), `${name}: got the reply and FIN`);
    assert.equal(Buffer.concat(chunks).toString(), 'hi');
    // host–NAT 0.5 ms, NAT–core 10 ms, core–server 10 ms (double NAT: one more 0.5 ms LAN hop).
    const oneWay = name === 'c' ? 21 : 20.5;
    assert.ok(Math.abs(connectedAt - t0 - 2 * oneWay) < 1e-9, `${name}: connected after one round trip`);
    assert.ok(Math.abs(seen.at(-1)!.at - t0 - 3 * oneWay) < 1e-9, `${name}: accepted when the ACK arrived`);
    assert.equal(seen.at(-1)!.addr, topo.site(name).publicAddress, `${name}: the server sees the outermost NAT`);
    sock.destroy();
  }
  await closeServer(server, topo);
  await topo.scheduler.advance(1000);
  assert.equal(tcp.openSockets, 0);
});

test('nothing connects in through a NAT (ETIMEDOUT after the SYN timeout); nothing listening is ECONNREFUSED after a round trip', async () => {
  const { topo, tcp } = lab({ synTimeoutMs: 5000 });
  const a = topo.site('a');
  const listening = tcp.transport(a.host).createServer({}, () => assert.fail('nothing may reach inside a NAT'));
  await listening.listen(9000, '0.0.0.0');
  const t0 = topo.scheduler.now();
  const inbound = tcp.transport(topo.server).connect({ host: a.publicAddress, port: 9000 });
  const inboundPrivate = tcp.transport(topo.server).connect({ host: a.host.address, port: 9000 });
  const refused = tcp.transport(a.host).connect({ host: SERVER, port: 7001 });
  const results: Record<string, { code: string; at: number }> = {};
  for (const [k, s] of Object.entries({ inbound, inboundPrivate, refused })) {
    void outcome(s).then((code) => (results[k] = { code, at: topo.scheduler.now() - t0 }));
  }
  await topo.scheduler.runUntil(() => Object.keys(results).length === 3, { maxTime: t0 + 10_000 });
  assert.deepEqual(results.inbound, { code: 'ETIMEDOUT', at: 5000 });
  assert.deepEqual(results.inboundPrivate, { code: 'ETIMEDOUT', at: 5000 });
  assert.deepEqual(results.refused, { code: 'ECONNREFUSED', at: 41 });
  assert.equal(tcp.stats.refused, 1);
  assert.equal(tcp.stats.timedOut, 2);
  await closeServer(listening, topo);
  assert.equal(tcp.openSockets, 0);
  assert.equal(tcp.listening, 0);
});

test('loopback on a host; listen refuses a taken port (EADDRINUSE) and an address the host lacks (EADDRNOTAVAIL)', async () => {
  const { topo, tcp } = lab();
  const t = tcp.transport(topo.site('a').host);
  const srv = t.createServer({}, (s) => s.pipe(s));
  const addr = await srv.listen(0, '127.0.0.1');
  assert.ok(addr.port >= 32768 && addr.port <= 60999);
  await assert.rejects(t.createServer({}, () => {}).listen(addr.port, '0.0.0.0'), { code: 'EADDRINUSE' });
  await assert.rejects(t.createServer({}, () => {}).listen(1234, '10.99.0.1'), { code: 'EADDRNOTAVAIL' });
  const sock = t.connect({ host: '127.0.0.1', port: addr.port });
  let echoed = '';
  sock.on('data', (c: Buffer) => (echoed += c.toString()));
  sock.write('echo');
  assert.ok(await topo.scheduler.runUntil(() => echoed === 'echo', { maxTime: 10 }));
  assert.equal(topo.scheduler.now(), 0, 'loopback takes no virtual time');
  sock.destroy();
  await closeServer(srv, topo);
  assert.equal(tcp.openSockets, 0);
});

test('16 MiB crosses byte-exact, in order, taking the serialisation time of the rate plus the path delay', async () => {
  const rate = 50_000_000;
  const { topo, tcp } = lab({ defaultBytesPerSec: rate, window: 64 * 1024 * 1024 });
  const size = 16 * 1024 * 1024;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const h = createHash('sha256');
  let got = 0;
  let doneAt = -1;
  const srv = tcp.transport(topo.server).createServer({}, (s) => {
    s.on('data', (c: Buffer) => {
      h.update(c);
      got += c.length;
      if (got === size) doneAt = topo.scheduler.now();
    });
  });
  await srv.listen(7000, SERVER);
  const sock = tcp.transport(topo.site('a').host).connect({ host: SERVER, port: 7000 });
  let connectedAt = -1;
  sock.on('connect', () => {
    connectedAt = topo.scheduler.now();
    sock.write(data);
  });
  assert.ok(await topo.scheduler.runUntil(() => doneAt >= 0, { maxTime: 10_000 }));
  assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
  const expected = (size / rate) * 1000 + 20.5;
  assert.ok(Math.abs(doneAt - connectedAt - expected) < 1, `took ${doneAt - connectedAt} ms, expected ${expected}`);
  sock.destroy();
  await closeServer(srv, topo);
});

test('a reader that stops reading stops the writer: in flight stays within the window', async () => {
  const window = 256 * 1024;
  const { topo, tcp } = lab({ window });
  let server: StreamSocket | null = null;
  const srv = tcp.transport(topo.server).createServer({}, (s) => {
    server = s;
    s.pause();
  });
  await srv.listen(7000, SERVER);
  const sock = tcp.transport(topo.site('a').host).connect({ host: SERVER, port: 7000 });
  let written = 0;
  let blocked = false;
  const writeMore = (): void => {
    while (written < 8 * 1024 * 1024) {
      written += 16 * 1024;
      if (!sock.write(Buffer.alloc(16 * 1024))) {
        blocked = true;
        sock.once('drain', writeMore);
        return;
      }
    }
  };
  sock.on('connect', writeMore);
  await topo.scheduler.runUntil(() => false, { maxTime: 2000 });
  assert.ok(blocked, 'the writer saw back-pressure');
  const s = server as StreamSocket | null;
  assert.ok(s !== null);
  // Buffered at the paused reader plus what the writer holds: bounded by window + stream buffers.
  assert.ok(s.readableLength <= window + 64 * 1024, `reader holds ${s.readableLength}`);
  assert.ok(tcp.stats.bytesDelivered <= window + 64 * 1024, `delivered ${tcp.stats.bytesDelivered}`);
  // Reading again lets everything through.
  let drained = 0;
  s.on('data', (c: Buffer) => (drained += c.length));
  s.resume();
  assert.ok(await topo.scheduler.runUntil(() => drained === 8 * 1024 * 1024, { maxTime: 60_000 }), `drained ${drained}`);
  sock.destroy();
  await closeServer(srv, topo);
});

test('end() is a FIN after the data (half-close works); resetAndDestroy is ECONNRESET at the peer; data to a closed socket is answered with a reset', async () => {
  const { topo, tcp } = lab();
  const accepted: StreamSocket[] = [];
  const srv = tcp.transport(topo.server).createServer({ allowHalfOpen: true }, (s) => accepted.push(s));
  await srv.listen(7000, SERVER);
  const host = tcp.transport(topo.site('a').host);

  // Half-close: the client ends, the server still answers, then ends.
  const c1 = host.connect({ host: SERVER, port: 7000, allowHalfOpen: true });
  c1.end('request');
  let reply = '';
  let c1Ended = false;
  c1.on('data', (c: Buffer) => (reply += c.toString()));
  c1.on('end', () => (c1Ended = true));
  await topo.scheduler.runUntil(() => accepted.length === 1, { maxTime: 1000 });
  let req = '';
  let s1Ended = false;
  accepted[0]!.on('data', (c: Buffer) => (req += c.toString()));
  accepted[0]!.on('end', () => {
    s1Ended = true;
    accepted[0]!.end('response');
  });
  assert.ok(await topo.scheduler.runUntil(() => c1Ended, { maxTime: 1000 }));
  assert.equal(req, 'request');
  assert.ok(s1Ended);
  assert.equal(reply, 'response');

  // Reset: the peer gets ECONNRESET.
  const c2 = host.connect({ host: SERVER, port: 7000 });
  const c2Error = outcome(c2).then(() => new Promise<string>((r) => c2.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? ''))));
  await topo.scheduler.runUntil(() => accepted.length === 2, { maxTime: 1000 });
  accepted[1]!.resetAndDestroy();
  await topo.scheduler.runUntil(() => c2.destroyed, { maxTime: 1000 });
  assert.equal(await c2Error, 'ECONNRESET');

  // Data to a closed socket: reset.
  const c3 = host.connect({ host: SERVER, port: 7000 });
  let c3Code = '';
  c3.on('error', (e: NodeJS.ErrnoException) => (c3Code = e.code ?? ''));
  await topo.scheduler.runUntil(() => accepted.length === 3, { maxTime: 1000 });
  accepted[2]!.on('error', () => {});
  accepted[2]!.destroy();
  // Write before the server's FIN arrives (c3 does not read, so the FIN alone does not close it).
  c3.write('late');
  await topo.scheduler.runUntil(() => c3.destroyed, { maxTime: 1000 });
  assert.equal(c3Code, 'ECONNRESET', 'the server answered the late bytes with a reset');
  assert.ok(tcp.trace.events.some((e) => e.kind === 'rst'));

  await closeServer(srv, topo);
  await topo.scheduler.advance(1000);
  assert.equal(tcp.openSockets, 0);
});

test('same seed, same TCP trace (ports, times, payload hashes); another seed, another trace', async () => {
  const run = async (seed: number): Promise<string> => {
    const { topo, tcp } = lab({ hashPayloads: true }, seed);
    const srv = tcp.transport(topo.server).createServer({}, (s) => s.pipe(s));
    await srv.listen(7000, SERVER);
    let back = 0;
    const clients: StreamSocket[] = [];
    for (const name of ['a', 'b']) {
      const s = tcp.transport(topo.site(name).host).connect({ host: SERVER, port: 7000 });
      s.on('data', (c: Buffer) => (back += c.length));
      s.write(Buffer.alloc(100_000, name));
      clients.push(s);
    }
    assert.ok(await topo.scheduler.runUntil(() => back === 200_000, { maxTime: 5000 }));
    for (const c of clients) c.end();
    await closeServer(srv, topo);
    await topo.scheduler.advance(1000);
    assert.equal(tcp.openSockets, 0, 'both ends closed after the FINs crossed');
    return `${tcp.trace.digest} ${JSON.stringify(tcp.trace.events)}`;
  };
  const a = await run(7);
  assert.equal(await run(7), a);
  assert.notEqual(await run(8), a);
});

/** The /metrics HTTP server on its own: what it answers, and that it is gone once stopped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { MetricsServer, type HealthAnswer, type MetricsSource } from '../../src/metrics/serve.js';
import { isBurrowError } from '../../src/errors.js';

const source = (text: string): MetricsSource => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => text });

/** One request on a fresh connection: status, body, or the socket error's code. */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | undefined; cache: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'], cache: res.headers['cache-control'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /metrics renders every source in order; other paths are 404, other methods 405', async () => {
  const server = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [source('a_total 1\n'), source('b 2\n')] });
  try {
    assert.ok(server.port > 0);
    const ok = await get(server.port, '/metrics');
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'a_total 1\nb 2\n');
    assert.match(ok.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal((await get(server.port, '/metrics?x=1')).status, 200);
    assert.equal((await get(server.port, '/')).status, 404);
    assert.equal((await get(server.port, '/metrics/more')).status, 404);
    assert.equal((await get(server.port, '/metrics', 'POST')).status, 405);
    const head = await get(server.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  } finally {
    await server.stop();
  }
});

test('GET /health answers the health source: its status and its body as JSON, read at each request; HEAD without a body', async () => {
  let state: HealthAnswer = { status: 200, body: { ok: true, n: 1 } };
  const server = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [source('x 1\n')], health: () => state });
  try {
    const ok = await get(server.port, '/health');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { ok: true, n: 1 });
    assert.match(ok.type ?? '', /^application\/json/);
    assert.equal(ok.cache, 'no-store');
    state = { status: 503, body: { ok: false, reasons: ['lease-not-held'] } };
    const down = await get(server.port, '/health?probe=1');
    assert.equal(down.status, 503);
    assert.deepEqual(JSON.parse(down.body), { ok: false, reasons: ['lease-not-held'] });
    const head = await get(server.port, '/health', 'HEAD');
    assert.equal(head.status, 503);
    assert.equal(head.body, '');
    assert.equal((await get(server.port, '/health', 'POST')).status, 405);
    assert.equal((await get(server.port, '/health/x')).status, 404);
    // /metrics is untouched by the health source.
    assert.equal((await get(server.port, '/metrics')).body, 'x 1\n');
  } finally {
    await server.stop();
  }
});

test('/health is 404 without a health source or while it answers null; a throwing one is a 500 and the server keeps serving', async () => {
  const none = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [source('x 1\n')] });
  try {
    const r = await get(none.port, '/health');
    assert.equal(r.status, 404);
    assert.match(r.body, /no health check/);
  } finally {
    await none.stop();
  }
  let mode: 'null' | 'throw' | 'ok' = 'null';
  const health = (): HealthAnswer | null => {
    if (mode === 'throw') throw new Error('kaput');
    return mode === 'null' ? null : { status: 200, body: { ok: true } };
  };
  const server = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [source('x 1\n')], health });
  try {
    assert.equal((await get(server.port, '/health')).status, 404);
    mode = 'throw';
    const bad = await get(server.port, '/health');
    assert.equal(bad.status, 500);
    assert.match(bad.body, /kaput/);
    mode = 'ok';
    assert.equal((await get(server.port, '/health')).status, 200);
  } finally {
    await server.stop();
  }
});

test('a source that throws gives a 500 for that scrape, and the server keeps serving', async () => {
  let fail = true;
  const flaky: MetricsSource = { contentType: 'text/plain', metrics: async () => (fail ? Promise.reject(new Error('boom')) : 'x 1\n') };
  const server = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [flaky] });
  try {
    const bad = await get(server.port, '/metrics');
    assert.equal(bad.status, 500);
    assert.match(bad.body, /boom/);
    fail = false;
    assert.equal((await get(server.port, '/metrics')).body, 'x 1\n');
  } finally {
    await server.stop();
  }
});

test('after stop() a scrape fails: nothing listens, and an open connection was closed too', async () => {
  const server = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [source('x 1\n')] });
  const port = server.port;
  // A keep-alive connection held open across the stop.
  const held = await new Promise<import('node:net').Socket>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      const socket = req.socket;
      res.on('end', () => (socket ? resolve(socket) : reject(new Error('no socket'))));
    });
    req.on('error', reject);
    req.end();
  });
  // The agent unrefs its idle sockets; this one must keep the test alive until it sees the close.
  held.ref();
  const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
  const started = Date.now();
  await server.stop();
  await closed;
  assert.ok(Date.now() - started < 2000, 'stop() does not wait for keep-alive connections to time out');
  await assert.rejects(get(port, '/metrics'), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  // Stopping again is harmless.
  await server.stop();
});

test('an address that cannot be served is a clear ERR_INVALID_ARGUMENT naming it and the reason', async () => {
  const first = await MetricsServer.start({ host: '127.0.0.1', port: 0, sources: [] });
  try {
    await assert.rejects(MetricsServer.start({ host: '127.0.0.1', port: first.port, sources: [] }), (err: unknown) => {
      assert.ok(isBurrowError(err, 'ERR_INVALID_ARGUMENT'));
      assert.equal(err.message, `cannot serve metrics on 127.0.0.1:${first.port}: EADDRINUSE`);
      return true;
    });
  } finally {
    await first.stop();
  }
  // 192.0.2.1 (TEST-NET-1) is no address of this host.
  await assert.rejects(MetricsServer.start({ host: '192.0.2.1', port: 0, sources: [] }), /cannot serve metrics on 192\.0\.2\.1:0: EADDRNOTAVAIL/);
});

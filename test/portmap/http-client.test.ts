import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBurrowError } from '../../src/errors.js';
import { nodeHttpClient } from '../../src/portmap/http-client.js';

async function withServer(handler: Parameters<typeof createServer>[1], fn: (base: URL) => Promise<void>): Promise<void> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('GET and POST: status and body; the POST body and headers arrive', async () => {
  await withServer(
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.writeHead(req.method === 'POST' ? 500 : 200).end(`${req.method} ${req.headers.soapaction ?? ''} ${body}`));
    },
    async (base) => {
      assert.deepEqual(await nodeHttpClient(base, { method: 'GET', timeoutMs: 2000, maxBytes: 1000 }), { status: 200, body: 'GET  ' });
      const r = await nodeHttpClient(base, { method: 'POST', headers: { SOAPAction: '"x#y"' }, body: Buffer.from('hi'), timeoutMs: 2000, maxBytes: 1000 });
      assert.deepEqual(r, { status: 500, body: 'POST "x#y" hi' });
    },
  );
});

test('a response over the size cap is cut off with ERR_PORTMAP_MALFORMED', async () => {
  await withServer(
    (_req, res) => res.end('x'.repeat(100_000)),
    async (base) => {
      await assert.rejects(nodeHttpClient(base, { method: 'GET', timeoutMs: 2000, maxBytes: 1000 }), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
    },
  );
});

test('a server that never answers times out with ERR_PORTMAP_UNREACHABLE; a closed port too', async () => {
  await withServer(
    () => {
      /* never answers */
    },
    async (base) => {
      const t0 = Date.now();
      await assert.rejects(nodeHttpClient(base, { method: 'GET', timeoutMs: 200, maxBytes: 1000 }), (e) => isBurrowError(e, 'ERR_PORTMAP_UNREACHABLE'));
      assert.ok(Date.now() - t0 < 2000);
    },
  );
  await assert.rejects(nodeHttpClient(new URL('http://127.0.0.1:1/'), { method: 'GET', timeoutMs: 2000, maxBytes: 10 }), (e) => isBurrowError(e, 'ERR_PORTMAP_UNREACHABLE'));
});

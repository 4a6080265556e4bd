/**
 * The dashboard over HTTP: a token off loopback (refused without one, before
 * anything listens), no secret in anything it serves, bounded live clients,
 * and peers' reports taken or dropped by the real rendezvous.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { startProvider, startRendezvous, startVisitor } from '../../api/index.js';
import { startDashboard } from '../../rendezvous/dashboard/http-server.js';
import { startRendezvous as startRendezvousServer } from '../../rendezvous/rendezvous.js';
import { BurrowError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { LoopbackPeer } from '../rendezvous-unit/loopback-peer.js';
import { echoServer, waitFor } from '../peer/harness.js';

const TOKEN = 'rendezvous-token-5d8e1f';
const SECRET = 'service-secret-c04a77';
const DASH_TOKEN = 'dashboard-token-9a1b2c3d4e';
const CONN = '0123456789abcdef0123456789abcdef';
const silent = () => new Logger({ level: 'error', sink: { write() {} } });

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A GET with these headers; for an event stream, what arrived within `streamMs`. */
function get(port: number, path: string, headers: Record<string, string> = {}, streamMs = 0): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('end', done);
      if (streamMs > 0 && res.headers['content-type'] === 'text/event-stream') {
        setTimeout(() => {
          req.destroy();
          done();
        }, streamMs);
      }
    });
    req.on('error', reject);
  });
}

async function rejectsConfig(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BurrowError, String(err));
  assert.equal(err.code, 'ERR_CONFIG');
  assert.match(err.message, pattern);
}

describe('the dashboard\'s access rules', { timeout: 30_000 }, () => {
  const source = { dashboardView: () => ({ now: 0, peers: [], services: [], relaySessions: [], reported: [], failures: [], pairOutcomes: [], punchOutcomes: [], reportStats: { reports: 0, reportsDropped: 0, sessionsDropped: 0 }, reportEveryMs: null }) };

  it('refuses to start off loopback without a token, or with a short one, saying so', async () => {
    await rejectsConfig(startDashboard({ source, host: '0.0.0.0', port: 0 }), /reachable from other hosts: give it a token/);
    await rejectsConfig(startDashboard({ source, host: '::', port: 0, token: 'short' }), /at least 16 characters/);
    await rejectsConfig(startRendezvous({ token: TOKEN, dashboard: '0.0.0.0:0' }), /option "dashboardToken".*token/);
  });

  it('off loopback: every path needs the token (bearer, or the cookie traded for ?token=)', async () => {
    const d = await startDashboard({ source, host: '0.0.0.0', port: 0, token: DASH_TOKEN });
    const port = d.listening?.port ?? 0;
    try {
      for (const path of ['/', '/dashboard.js', '/api/snapshot', '/api/events']) {
        assert.equal((await get(port, path)).status, 401, path);
        assert.equal((await get(port, path, { authorization: 'Bearer wrong-token-wrong-token' })).status, 401, path);
      }
      assert.equal((await get(port, '/?token=wrong-token-wrong-token')).status, 401);
      const ok = await get(port, '/api/snapshot', { authorization: `Bearer ${DASH_TOKEN}` });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body).sessions, []);
      const traded = await get(port, `/?token=${DASH_TOKEN}`);
      assert.equal(traded.status, 303);
      assert.equal(traded.headers.location, '/');
      const cookie = (traded.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
      assert.match(traded.headers['set-cookie']?.[0] ?? '', /HttpOnly; SameSite=Strict/);
      const page = await get(port, '/', { cookie });
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      assert.equal((await get(port, '/api/snapshot', { cookie: 'burrow_dashboard=%E0%A4%A' })).status, 401, 'a malformed cookie is no token');
    } finally {
      await d.close();
    }
  });

  it('on loopback without a token: only for a loopback Host (no DNS rebinding); live clients are bounded', async () => {
    const d = await startDashboard({ source, host: '127.0.0.1', port: 0, maxClients: 2 });
    const port = d.listening?.port ?? 0;
    try {
      assert.equal((await get(port, '/')).status, 200);
      assert.equal((await get(port, '/', { host: `localhost:${port}` })).status, 200);
      assert.equal((await get(port, '/', { host: `attacker.example:${port}` })).status, 403);
      const streams = [get(port, '/api/events', {}, 1500), get(port, '/api/events', {}, 1500)];
      await waitFor(() => d.clientCount === 2, 5000, 'two live clients');
      assert.equal((await get(port, '/api/events')).status, 503);
      const [first] = await Promise.all(streams);
      assert.match(first?.body ?? '', /^retry: 2000\ndata: \{"services":\[\]/);
    } finally {
      await d.close();
    }
  });
});

describe('the dashboard with real peers', { timeout: 60_000 }, () => {
  it('shows their session and never a token, secret, ticket or key in anything it serves', async () => {
    const rv = await startRendezvous({ token: TOKEN, dashboard: '127.0.0.1:0' });
    const echo = await echoServer();
    const provider = await startProvider({ server: rv.address, token: TOKEN, services: [{ name: 'nas', secret: SECRET, to: `127.0.0.1:${echo.port}` }] });
    const visitor = await startVisitor({ server: rv.address, token: TOKEN, name: 'nas', secret: SECRET });
    try {
      const port = rv.dashboardAddress?.port ?? 0;
      let snapshot = '';
      await waitFor(() => visitor.sessions.length === 1, 10_000, 'a session');
      const deadline = Date.now() + 15_000;
      while (!/"reportedBy":"visitor"/.test(snapshot) && Date.now() < deadline) {
        snapshot = (await get(port, '/api/snapshot')).body;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(snapshot, /"reportedBy":"visitor"/, snapshot);
      const bodies = [snapshot, (await get(port, '/')).body, (await get(port, '/dashboard.js')).body, (await get(port, '/dashboard.css')).body, (await get(port, '/api/events', {}, 1500)).body];
      for (const b of bodies) {
        assert.ok(!b.includes(TOKEN), 'the rendezvous token');
        assert.ok(!b.includes(SECRET), 'the service secret');
        // Tickets, proofs, nonces and keys are 32 bytes: 44 characters of base64 (or 64 hex digits).
        assert.doesNotMatch(b, /[A-Za-z0-9+/]{43}=/);
        assert.doesNotMatch(b, /[0-9a-f]{64}/);
      }
      const s = JSON.parse(snapshot) as { sessions: { service: string }[]; services: { name: string }[]; visitors: unknown[] };
      assert.deepEqual(s.services.map((x) => x.name), ['nas']);
      assert.equal(s.visitors.length, 1);
      assert.equal(s.sessions[0]?.service, 'nas');
    } finally {
      await visitor.stop();
      await provider.stop();
      await rv.stop();
      echo.close();
    }
  });
});

describe('reports at the real rendezvous', { timeout: 30_000 }, () => {
  const report = (connId: string) => ({ type: 'report' as const, sessions: [{ connId, service: 'nas', path: 'relay' as const, bytesSent: 1, bytesReceived: 1, ageSeconds: 1, punchesDirect: 0, punchesFailed: 0 }] });

  it('drops a session its peer is not a side of, and a report nobody asked for, keeping the connection', async () => {
    for (const asked of [true, false]) {
      const rv = await startRendezvousServer({ host: '127.0.0.1', port: 0, token: TOKEN, logger: silent(), reportEveryMs: asked ? 1000 : null });
      const peer = await LoopbackPeer.login(rv.tcp?.port ?? 0, TOKEN, 'visitor');
      try {
        peer.send(report(CONN));
        peer.send({ type: 'ping', t: 1 });
        await peer.next('pong');
        const v = rv.dashboardView();
        assert.deepEqual(v.reported, []);
        assert.deepEqual(v.reportStats, asked ? { reports: 1, reportsDropped: 0, sessionsDropped: 1 } : { reports: 0, reportsDropped: 1, sessionsDropped: 0 });
        assert.equal(rv.stats.peers, 1, 'still logged in');
      } finally {
        peer.close();
        await rv.close();
      }
    }
  });

  it('a malformed report is an invalid frame: counted, and that connection ends (the protocol\'s rule), the rendezvous runs on', async () => {
    const rv = await startRendezvousServer({ host: '127.0.0.1', port: 0, token: TOKEN, logger: silent(), reportEveryMs: 1000 });
    const peer = await LoopbackPeer.login(rv.tcp?.port ?? 0, TOKEN, 'provider');
    try {
      peer.send({ ...report(CONN), sessions: [{ ...report(CONN).sessions[0], secret: 'x' }] } as never);
      await waitFor(() => rv.stats.invalidFrames === 1 && rv.stats.peers === 0, 5000, 'the invalid frame counted');
      const again = await LoopbackPeer.login(rv.tcp?.port ?? 0, TOKEN, 'provider');
      again.close();
    } finally {
      peer.close();
      await rv.close();
    }
  });
});

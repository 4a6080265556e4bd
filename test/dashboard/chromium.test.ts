/**
 * The dashboard in a real headless Chromium (Debian's, driven by
 * puppeteer-core): the page loads without a console error, shows a session
 * this test starts on the relay, then shows it move to the direct path,
 * live, without a reload. The punch is held back a few seconds so the
 * session is seen on the relay first. Skipped, saying why, without chromium.
 *
 * BURROW_UPDATE_SCREENSHOT=1 writes the screenshot to docs/dashboard.png
 * (the README shows it); otherwise it goes to a temporary directory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startDashboard, type DashboardServer } from '../../rendezvous/dashboard/http-server.js';
import { startRendezvous, type Rendezvous } from '../../rendezvous/rendezvous.js';
import type { RendezvousView } from '../../rendezvous/dashboard/view.js';
import { Provider } from '../../peer/provider.js';
import { Visitor } from '../../peer/visitor.js';
import { Logger } from '../../src/log/logger.js';
import { echoServer, waitFor } from '../peer/harness.js';
import { CHROMIUM_ARGS, findChromium } from './browser.js';

const chromium = findChromium();
const TOKEN = 'rendezvous-token-0f3c9a';
const SECRET = 'service-secret-7b21e4';
const silent = () => new Logger({ level: 'error', sink: { write() {} } });
/** Both sides wait this long before punching: the dashboard sees the session on the relay first. */
const PUNCH_DELAY_MS = 6000;

test('the dashboard in headless Chromium: no console errors, a session on the relay, then direct, live', { timeout: 90_000, skip: chromium === null ? 'no chromium binary (Debian package "chromium"; .ci/run installs it)' : false }, async () => {
  const cleanup: (() => unknown)[] = [];
  const shots = mkdtempSync(join(tmpdir(), 'burrow-dashboard-'));
  cleanup.push(() => rmSync(shots, { recursive: true, force: true }));
  try {
    const rv: Rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0, token: TOKEN, stun: {}, reportEveryMs: 1000, logger: silent() });
    cleanup.push(() => rv.close());
    const board: DashboardServer = await startDashboard({ source: rv, host: '127.0.0.1', port: 0, updateEveryMs: 250 });
    cleanup.push(() => board.close());
    const url = `http://127.0.0.1:${board.listening?.port}/`;

    const browser: Browser = await puppeteer.launch({ executablePath: chromium ?? '', headless: true, args: CHROMIUM_ARGS });
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    assert.equal(await page.$eval('#sessions-empty', (e) => !e.classList.contains('hidden')), true, 'no session before the test starts one');

    const rvPort = rv.tcp?.port ?? 0;
    const echo = await echoServer();
    cleanup.push(() => echo.close());
    const direct = { options: { startDelayMs: PUNCH_DELAY_MS } };
    const provider = new Provider({ server: { host: '127.0.0.1', port: rvPort }, token: TOKEN, services: [{ name: 'nas', secret: SECRET, target: { host: '127.0.0.1', port: echo.port } }], logger: silent(), mode: 'xtcp', direct });
    provider.start();
    cleanup.push(() => provider.stop());
    const visitor = new Visitor({ server: { host: '127.0.0.1', port: rvPort }, token: TOKEN, service: 'nas', secret: SECRET, listen: { host: '127.0.0.1', port: 0 }, logger: silent(), mode: 'xtcp', direct });
    const { port } = await visitor.start();
    cleanup.push(() => visitor.stop());
    // Traffic through the tunnel all along, so bytes and throughput move.
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    client.on('data', () => {});
    const pump = setInterval(() => client.write(Buffer.alloc(16 * 1024, 7)), 50);
    cleanup.push(() => {
      clearInterval(pump);
      client.destroy();
    });

    await waitFor(() => visitor.sessionViews().length === 1, 10_000, 'the visitor\'s session');
    const conn = visitor.sessionViews()[0]?.setup.connId.slice(0, 8) ?? '';
    const pathOf = `document.querySelector('tr[data-conn="${conn}"] [data-path]')?.getAttribute('data-path')`;
    await page.waitForFunction(`${pathOf} === 'relay'`, { timeout: 10_000 });
    assert.equal(visitor.currentSession?.currentPath?.kind, 'relay', 'the page showed the relay while the session was on it');
    await page.screenshot({ path: join(shots, 'relay.png') });

    await page.waitForFunction(`(${pathOf} ?? '').startsWith('direct')`, { timeout: 30_000 });
    assert.equal(visitor.currentSession?.currentPath?.kind, 'direct');
    assert.equal(navigations, 1, 'the page moved to direct without a reload');
    // What else the page shows of it: the service and its provider, the visitor, the punch by NAT pair.
    await page.waitForFunction(`document.querySelector('#pairs tbody td:nth-child(3)')?.textContent === '1'`, { timeout: 10_000 });
    const text = String(await page.evaluate('document.body.innerText'));
    assert.match(text, /nas/);
    assert.match(text, /direct (LAN|internet)/);
    assert.equal(await page.$eval('#n-providers', (e) => e.textContent), '1');
    assert.equal(await page.$eval('#n-visitors', (e) => e.textContent), '1');
    assert.ok(!text.includes(SECRET) && !text.includes(TOKEN), 'no secret or token on the page');

    const png = process.env['BURROW_UPDATE_SCREENSHOT'] === '1' ? fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url)) : join(shots, 'direct.png');
    await page.screenshot({ path: png, fullPage: true });
    assert.equal(readFileSync(png).subarray(1, 4).toString(), 'PNG');
    assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
  } finally {
    for (const f of cleanup.reverse()) await f();
  }
});

test('the dashboard in headless Chromium: failures with their timelines, NAT pairs, an unreported relay link; peers\' words shown as text', { timeout: 60_000, skip: chromium === null ? 'no chromium binary (Debian package "chromium"; .ci/run installs it)' : false }, async () => {
  const hostile = '<img src=x id=injected onerror="document.title=1">';
  const conn = (c: string) => c.repeat(32);
  const view: RendezvousView = {
    now: 100_000,
    peers: [
      { id: 'p1', role: 'provider', remote: '198.51.100.7:40000', since: 40_000, name: 'home-nas', nat: { udp: true, mapping: 'dependent', allocation: 'random' } },
      { id: 'p2', role: 'visitor', remote: '203.0.113.9:50000', since: 90_000, nat: { udp: true, mapping: 'independent', allocation: 'preserving' } },
    ],
    services: [['nas', 'p1']],
    relaySessions: [{ connId: conn('e'), service: 'nas', visitor: 'p2', provider: 'p1' }],
    reported: [],
    failures: [{ at: 70_000, connId: conn('f'), service: 'nas', role: 'visitor', attempt: 2, reason: hostile, timeline: '+0ms gathered 3 candidates\n+850ms probe-sent 198.51.100.7:40001 x14 (srflx)', visitorNat: 'cone', providerNat: 'symmetric_random' }],
    pairOutcomes: [{ visitorNat: 'cone', providerNat: 'symmetric_random', direct: 1, failed: 3 }],
    punchOutcomes: [{ outcome: 'introduced', visitorNat: 'cone', providerNat: 'symmetric_random', count: 4 }],
    reportStats: { reports: 9, reportsDropped: 0, sessionsDropped: 0 },
    reportEveryMs: 5000,
  };
  const cleanup: (() => unknown)[] = [];
  try {
    const board = await startDashboard({ source: { dashboardView: () => view }, host: '127.0.0.1', port: 0 });
    cleanup.push(() => board.close());
    const browser: Browser = await puppeteer.launch({ executablePath: chromium ?? '', headless: true, args: CHROMIUM_ARGS });
    cleanup.push(() => browser.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    await page.goto(`http://127.0.0.1:${board.listening?.port}/`, { waitUntil: 'load' });
    await page.waitForSelector('#failures tbody tr', { timeout: 10_000 });
    const cell = (sel: string) => page.$eval(sel, (e) => e.textContent);
    assert.equal(await cell('#failures tbody tr td:nth-child(6) div'), hostile, 'the reason is shown as text');
    assert.equal(await page.$('#injected'), null, 'and never parsed as HTML');
    assert.match(String(await cell('#failures pre')), /probe-sent 198\.51\.100\.7:40001 x14/);
    assert.equal(await cell('#failures tbody tr td:nth-child(5)'), 'cone → symmetric (random)');
    assert.deepEqual(await page.$$eval('#pairs tbody td', (tds) => tds.map((t) => t.textContent)), ['cone', 'symmetric (random)', '1', '3', '25 %', '4 / 0 / 0']);
    assert.deepEqual(await page.$$eval('#nats tbody td', (tds) => tds.map((t) => t.textContent)), ['cone', '1', 'symmetric (random)', '1']);
    assert.equal(await page.$eval('tr[data-conn="eeeeeeee"] [data-path]', (e) => e.getAttribute('data-path')), 'unknown', 'an older peer\'s session: its relay link');
    assert.match(String(await cell('#services tbody tr')), /nas.*p1 \(home-nas\).*198\.51\.100\.7:40000/);
    assert.deepEqual(problems, []);
  } finally {
    for (const f of cleanup.reverse()) await f();
  }
});

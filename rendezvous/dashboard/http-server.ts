/**
 * The dashboard's HTTP server (node:http): one static page with its script
 * and style, a JSON snapshot, and the same snapshot pushed live as
 * Server-Sent Events. Read-only: nothing here changes the rendezvous. No
 * external fetches, a strict Content-Security-Policy, a bounded number of
 * live clients, and a client that does not read is skipped, then dropped,
 * never buffered for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BurrowError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { dashboardToken, isLoopbackHost, requestToken, tokenMatches, TOKEN_COOKIE } from './access.js';
import { PAGE_CSS, PAGE_HTML, PAGE_ICON } from './page.js';
import { PAGE_SCRIPT } from './page-script.js';
import { buildSnapshot } from './snapshot.js';
import type { DashboardSource } from './view.js';

export interface DashboardOptions {
  source: DashboardSource;
  host: string;
  port: number;
  /** Required when `host` is not loopback (see access.ts). */
  token?: string | null | undefined;
  logger?: Logger | undefined;
  /** How often live clients get a new snapshot (when it changed). */
  updateEveryMs?: number;
  /** Live (event-stream) clients at once; more get 503. */
  maxClients?: number;
}

/** reportEveryMs: how often a rendezvous with a dashboard asks its peers for session reports. */
export const DASHBOARD_DEFAULTS = { updateEveryMs: 1000, maxClients: 16, reportEveryMs: 5000 } as const;
/** A live client with this much unsent is not reading: it is dropped. */
const MAX_CLIENT_BACKLOG = 1024 * 1024;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** Connections of any kind the server holds at once. */
const MAX_CONNECTIONS = 64;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const COMMON_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

export class DashboardServer {
  private readonly server: Server;
  private readonly token: string | null;
  private readonly clients = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private timer: NodeJS.Timeout | null = null;
  private lastJson = '';
  private lastSentAt = 0;
  private address: AddressInfo | null = null;

  constructor(private readonly opts: DashboardOptions) {
    // Before anything listens: off loopback without a token is a configuration error.
    this.token = dashboardToken(opts.host, opts.token);
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    this.timer = setInterval(() => this.push(), this.opts.updateEveryMs ?? DASHBOARD_DEFAULTS.updateEveryMs);
    this.timer.unref();
    this.opts.logger?.info('dashboard-listening', { dashboard: `http://${this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address}:${this.address.port}/`, token: this.token !== null ? 'required' : 'none (loopback)' });
    return this.address;
  }

  get listening(): AddressInfo | null {
    return this.address;
  }

  /** Live clients now. */
  get clientCount(): number {
    return this.clients.size;
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const c of this.clients) c.end();
    this.clients.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private snapshotJson(): string {
    return JSON.stringify(buildSnapshot(this.opts.source.dashboardView()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.plain(res, 405, 'only GET', { allow: 'GET, HEAD' });
    if (!this.allowed(req, res, url)) return;
    switch (url.pathname) {
      case '/':
        return this.send(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
      case '/dashboard.js':
        return this.send(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT);
      case '/dashboard.css':
        return this.send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
      case '/favicon.svg':
      case '/favicon.ico':
        return this.send(res, 200, 'image/svg+xml', PAGE_ICON);
      case '/api/snapshot':
        return this.send(res, 200, 'application/json', this.snapshotJson());
      case '/api/events':
        return this.subscribe(req, res);
      default:
        return this.plain(res, 404, 'not found');
    }
  }

  /** False when the request was answered already (refused, or the token traded for a cookie). */
  private allowed(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (this.token === null) {
      // Loopback without a token: only requests that name a loopback host (no DNS rebinding).
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (isLoopbackHost(host)) return true;
      this.plain(res, 403, 'this dashboard answers requests for a loopback host only');
      return false;
    }
    const query = url.searchParams.get('token');
    if (query !== null && url.pathname === '/') {
      if (!tokenMatches(query, this.token)) {
        this.plain(res, 401, 'wrong dashboard token');
        return false;
      }
      // Into a cookie, and off the address bar (and out of the browser's history).
      res.writeHead(303, {
        ...COMMON_HEADERS,
        location: '/',
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(this.token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end();
      return false;
    }
    const given = requestToken(req.headers);
    if (given !== null && tokenMatches(given, this.token)) return true;
    this.plain(res, 401, 'this dashboard needs its token: open /?token=TOKEN once, or send Authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer' });
    return false;
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    const max = this.opts.maxClients ?? DASHBOARD_DEFAULTS.maxClients;
    if (this.clients.size >= max) return this.plain(res, 503, `at most ${max} live dashboard clients`, { 'retry-after': '5' });
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    if (req.method === 'HEAD') return void res.end();
    this.clients.add(res);
    req.socket.setNoDelay(true);
    res.on('close', () => this.clients.delete(res));
    this.write(res, `retry: 2000\ndata: ${this.snapshotJson()}\n\n`);
  }

  /** Every tick: a new snapshot to every live client if it changed, else now and then a keepalive comment. */
  private push(): void {
    if (this.clients.size === 0) return;
    const json = this.snapshotJson();
    const now = Date.now();
    if (json === this.lastJson && now - this.lastSentAt < KEEPALIVE_MS) return;
    const frame = json === this.lastJson ? ': keepalive\n\n' : `data: ${json}\n\n`;
    this.lastJson = json;
    this.lastSentAt = now;
    for (const c of this.clients) this.write(c, frame);
  }

  private write(res: ServerResponse, frame: string): void {
    if (res.writableLength > MAX_CLIENT_BACKLOG) {
      // Not reading: the next snapshot replaces what it missed, so nothing is lost by dropping it.
      this.clients.delete(res);
      res.destroy();
      return;
    }
    // A client that is behind skips this update (it gets the next one), rather than queueing it.
    if (res.writableNeedDrain) return;
    res.write(frame);
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${text}\n`);
  }
}

/** Builds and starts a dashboard; rejects (ERR_CONFIG, or the listen error) with nothing left open. */
export async function startDashboard(opts: DashboardOptions): Promise<DashboardServer> {
  const d = new DashboardServer(opts);
  try {
    await d.listen();
  } catch (err) {
    await d.close();
    const e = err as NodeJS.ErrnoException;
    const where = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    throw new BurrowError('ERR_INVALID_ARGUMENT', `the dashboard cannot listen on ${where}: ${e.code ?? e.message}`, { cause: err });
  }
  return d;
}

/**
 * A small HTTP server for Prometheus scrapes: GET (or HEAD) /metrics answers
 * what the given sources render; GET (or HEAD) /health answers the health
 * source's JSON with its status (404 without one); anything else is 404 (405
 * for another method on either path). It knows nothing of the roles; each
 * role hands it its own registry (and a role that has a health check, that
 * check), and the process's registry is added by the caller.
 *
 * Bounded: a few connections at once, short header and request timeouts,
 * request bodies never read (a scrape has none), and stop() ends every
 * connection, so a stopped role leaves nothing listening.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BurrowError } from '../errors.js';

/** What a scrape renders: a prom-client Registry fits (its metrics() and contentType). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A health check's answer: the HTTP status (200 healthy, 503 not) and a JSON-serialisable body. */
export interface HealthAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Rendered one after another into one answer; their metric names must not overlap. */
  sources: readonly MetricsSource[];
  /** Read at each GET /health; absent, or null from it: no health check in this process (404). */
  health?: () => HealthAnswer | null;
}

/** Connections at once; node closes any beyond it as soon as it is accepted. */
const MAX_CONNECTIONS = 16;
/** A scraper that has not sent its headers by then is cut off. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export const METRICS_PATH = '/metrics';
export const HEALTH_PATH = '/health';

export class MetricsServer {
  private readonly sockets = new Set<Socket>();
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly server: Server,
    /** Where it listens (the port the kernel chose for port 0). */
    readonly host: string,
    readonly port: number,
  ) {}

  /** Listens, or fails with a BurrowError (ERR_INVALID_ARGUMENT) that names the address and the reason. */
  static async start(opts: MetricsServerOptions): Promise<MetricsServer> {
    const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
      if (pathOf(req) === HEALTH_PATH) answerHealth(req, res, opts.health);
      else void answer(req, res, opts.sources);
    });
    server.maxConnections = MAX_CONNECTIONS;
    const where = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new BurrowError('ERR_INVALID_ARGUMENT', `cannot serve metrics on ${where}: ${err.code ?? err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(opts.port, opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // Errors after listening (a connection reset) concern one scrape, not the role.
    server.on('error', () => {});
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : opts.port;
    const ms = new MetricsServer(server, opts.host, port);
    server.on('connection', (socket: Socket) => {
      ms.sockets.add(socket);
      socket.once('close', () => ms.sockets.delete(socket));
    });
    return ms;
  }

  /** "HOST:PORT" as listened on, for the log. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Stops listening and ends every connection; the same promise if called again. */
  stop(): Promise<void> {
    if (this.stopping === null) {
      this.stopping = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
    }
    return this.stopping;
  }
}

function pathOf(req: IncomingMessage): string | undefined {
  return (req.url ?? '').split('?')[0];
}

/** Only GET and HEAD are answered; false (and a 405 sent) for anything else. */
function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.setHeader('Allow', 'GET, HEAD');
  plain(res, 405, 'method not allowed\n');
  return false;
}

async function answer(req: IncomingMessage, res: ServerResponse, sources: readonly MetricsSource[]): Promise<void> {
  // A scrape has no body: whatever comes is not read and goes with the connection.
  if (pathOf(req) !== METRICS_PATH) return plain(res, 404, 'not found: metrics are at /metrics\n');
  if (!readOnly(req, res)) return;
  let body: string;
  try {
    body = (await Promise.all(sources.map((s) => s.metrics()))).join('');
  } catch (err) {
    return plain(res, 500, `cannot render metrics: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  if (res.destroyed) return;
  res.statusCode = 200;
  res.setHeader('Content-Type', sources[0]?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function answerHealth(req: IncomingMessage, res: ServerResponse, health: MetricsServerOptions['health']): void {
  if (!readOnly(req, res)) return;
  let answer: HealthAnswer | null;
  let body: string;
  try {
    answer = health?.() ?? null;
    body = answer === null ? '' : `${JSON.stringify(answer.body)}\n`;
  } catch (err) {
    return plain(res, 500, `cannot check health: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  if (answer === null) return plain(res, 404, 'not found: no health check in this process (metrics are at /metrics)\n');
  if (res.destroyed) return;
  res.statusCode = answer.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // A load balancer's probe must see the state now, never a cached one.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.destroyed) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Connection', 'close');
  res.end(text);
}

/**
 * A peer's local admin endpoint: a unix socket (mode 0600) that answers one
 * JSON request line with one JSON line. Bounded: a few connections at once,
 * a request size cap and a timeout; a bad request gets an error answer and
 * changes nothing.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { BurrowError } from '../src/errors.js';

export const ADMIN_LIMITS = {
  maxConnections: 4,
  maxRequestBytes: 4096,
  /** A client that sends no complete request in this time is dropped. */
  timeoutMs: 5_000,
  /** A request still being carried out after this long (a reload stopping and starting peers) is answered with an error; the work goes on. */
  answerTimeoutMs: 60_000,
} as const;

export const ADMIN_COMMANDS = ['status', 'reload'] as const;
export type AdminRequest = { cmd: (typeof ADMIN_COMMANDS)[number] };
export type AdminResponse = { ok: true; status: unknown } | { ok: false; error: { code: string; message: string } };

/** Answers a request, at once or later (a reload); a throw or rejection becomes an error answer, with the BurrowError's code. */
export type AdminHandler = (req: AdminRequest) => unknown;

export function parseAdminRequest(line: string): AdminRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return 'the request is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the request is not a JSON object';
  const cmd = (raw as Record<string, unknown>)['cmd'];
  const known = ADMIN_COMMANDS.find((c) => c === cmd);
  if (known === undefined) return `unknown command ${JSON.stringify(cmd)} (known: ${ADMIN_COMMANDS.map((c) => `"${c}"`).join(', ')})`;
  return { cmd: known };
}

/** Is someone listening on this socket path? */
export function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(true));
  });
}

export class AdminServer {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** Listens at `path`; a stale socket (nobody listening) there is replaced, anything else refused. */
  static async start(path: string, handler: AdminHandler): Promise<AdminServer> {
    let existing: ReturnType<typeof lstatSync> | null = null;
    try {
      existing = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new BurrowError('ERR_CONFIG', `admin socket ${path}: ${(err as NodeJS.ErrnoException).code}`);
    }
    if (existing !== null) {
      if (!existing.isSocket()) throw new BurrowError('ERR_CONFIG', `admin socket ${path} exists and is not a socket: remove it or choose another --admin PATH`);
      if (await listening(path)) throw new BurrowError('ERR_CONFIG', `admin socket ${path} is in use by another running peer: choose another --admin PATH`);
      unlinkSync(path);
    }
    const server = createServer((socket) => serve(socket, handler));
    server.maxConnections = ADMIN_LIMITS.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new BurrowError('ERR_SOCKET_BIND', `cannot listen on admin socket ${path}: ${err.code ?? err.message}`)));
      // The socket file is created inside listen() (synchronously, for a
      // path): with this umask it is 0600 from the first moment, not only
      // after the chmod below, even in a shared directory.
      const umask = process.umask(0o177);
      try {
        server.listen(path, () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(path, 0o600);
    return new AdminServer(path, server);
  }

  /** Stops listening and removes the socket file. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (server.close removes it on some platforms).
    }
  }
}

function serve(socket: Socket, handler: AdminHandler): void {
  let buffered = '';
  let answered = false;
  /** One request per connection: what comes after its line is ignored. */
  let taken = false;
  const answer = (r: AdminResponse) => {
    if (answered) return;
    answered = true;
    socket.end(`${JSON.stringify(r)}\n`);
  };
  const fail = (code: string, message: string) => answer({ ok: false, error: { code, message } });
  socket.setEncoding('utf8');
  socket.setTimeout(ADMIN_LIMITS.timeoutMs, () => socket.destroy());
  socket.on('error', () => {});
  socket.on('data', (chunk: string) => {
    if (answered || taken) return;
    buffered += chunk;
    const nl = buffered.indexOf('\n');
    if (nl < 0) {
      if (buffered.length > ADMIN_LIMITS.maxRequestBytes) fail('ERR_INVALID_ARGUMENT', `request longer than ${ADMIN_LIMITS.maxRequestBytes} bytes`);
      return;
    }
    taken = true;
    const req = parseAdminRequest(buffered.slice(0, nl));
    if (typeof req === 'string') return fail('ERR_INVALID_ARGUMENT', req);
    // The request is in: the idle timeout no longer applies, the answer's does.
    socket.setTimeout(0);
    const late = setTimeout(() => fail('ERR_INTERNAL', `no answer within ${ADMIN_LIMITS.answerTimeoutMs / 1000} s: still working on it, see the log`), ADMIN_LIMITS.answerTimeoutMs);
    socket.once('close', () => clearTimeout(late));
    const failWith = (err: unknown) => fail(err instanceof BurrowError ? err.code : 'ERR_INTERNAL', err instanceof Error ? err.message : String(err));
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(handler(req));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((status) => answer({ ok: true, status }), failWith).finally(() => clearTimeout(late)).catch(() => {});
  });
}

/**
 * The HTTP a UPnP client needs (a GET of the description, SOAP POSTs), over
 * node:http: one request, a hard timeout for the whole exchange, a cap on the
 * response size. Failures are BurrowErrors, never a stray rejection.
 */
import { request } from 'node:http';
import { BurrowError } from '../errors.js';

export interface HttpResponse {
  status: number;
  body: string;
}

export interface HttpRequestOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  maxBytes: number;
}

export type HttpClient = (url: URL, opts: HttpRequestOptions) => Promise<HttpResponse>;

export const nodeHttpClient: HttpClient = (url, opts) =>
  new Promise((resolve, reject) => {
    if (url.protocol !== 'http:') {
      reject(new BurrowError('ERR_INVALID_ARGUMENT', `only http URLs, got ${url.protocol}`));
      return;
    }
    let settled = false;
    const finish = (err: BurrowError | null, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(res!);
    };
    const req = request(
      url,
      {
        method: opts.method,
        headers: { ...opts.headers, Connection: 'close', ...(opts.body ? { 'Content-Length': String(opts.body.length) } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > opts.maxBytes) {
            finish(new BurrowError('ERR_PORTMAP_MALFORMED', `HTTP response from ${url.host} is larger than ${opts.maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => finish(new BurrowError('ERR_PORTMAP_UNREACHABLE', `HTTP ${url.host}: ${e.message}`, { cause: e })));
      },
    );
    const timer = setTimeout(
      () => finish(new BurrowError('ERR_PORTMAP_UNREACHABLE', `HTTP ${opts.method} ${url.host}${url.pathname} timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    timer.unref();
    req.on('error', (e) => finish(new BurrowError('ERR_PORTMAP_UNREACHABLE', `HTTP ${url.host}: ${e.message}`, { cause: e })));
    req.end(opts.body);
  });

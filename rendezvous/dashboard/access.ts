/**
 * Who may read the dashboard. On a loopback address, anyone on this host
 * (like the metrics port), provided the request names a loopback host (a
 * web page elsewhere that rebinds its name to 127.0.0.1 cannot read it).
 * Anywhere else, only a holder of the dashboard token: sent as
 * `Authorization: Bearer TOKEN`, or once as `/?token=TOKEN`, which the page
 * trades for a cookie (the browser's EventSource cannot send headers).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { BurrowError } from '../../src/errors.js';

export const TOKEN_COOKIE = 'burrow_dashboard';
/** Shorter tokens are refused: a guessable token on a public port is no protection. */
export const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h === '::1') return true;
  return h.startsWith('::ffff:127.');
}

/**
 * The token the dashboard needs, checked before anything listens: required
 * off loopback (with a clear error), at least MIN_TOKEN_LENGTH characters
 * when given. Null: loopback without a token.
 */
export function dashboardToken(host: string, token: string | null | undefined): string | null {
  const t = token === undefined || token === null ? null : token.trim();
  if (t !== null && t.length < MIN_TOKEN_LENGTH) {
    throw new BurrowError('ERR_CONFIG', `the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 16)`);
  }
  if (t === null && !isLoopbackHost(host)) {
    throw new BurrowError(
      'ERR_CONFIG',
      `the dashboard on ${host} would be reachable from other hosts: give it a token (--dashboard-token-file FILE, or dashboardToken), or bind it to 127.0.0.1`,
    );
  }
  return t;
}

/** Constant-time: both sides are hashed to one length first, so neither the bytes nor the length leak through timing. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request carries: its bearer header, else its cookie (null: none). */
export function requestToken(headers: { authorization?: string | undefined; cookie?: string | undefined }): string | null {
  const auth = headers.authorization;
  if (auth !== undefined && /^Bearer /i.test(auth)) return auth.slice(7).trim();
  for (const part of (headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return null; // a malformed cookie is no token
    }
  }
  return null;
}

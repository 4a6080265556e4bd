import { isIPv6 } from 'node:net';
import { BurrowError } from '../src/errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses "host:port", "[v6]:port" or ":port" (any address). An IPv6 literal
 * must be in brackets (RFC 3986): without them "::1:80" is ambiguous.
 */
export function parseHostPort(text: string, what: string, defaultHost = '0.0.0.0'): HostPort {
  const bad = (why: string): BurrowError =>
    new BurrowError('ERR_INVALID_ARGUMENT', `${what} must look like HOST:PORT (for example 127.0.0.1:7000 or [::1]:7000), got "${text}"${why}`);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) {
    const t = text.trim();
    if (/^[^[\]]*:[^[\]]*:/.test(t) && !t.startsWith('[')) throw bad(': an IPv6 address needs brackets, e.g. [2001:db8::1]:7000');
    throw bad('');
  }
  const port = Number(m[3]);
  if (port > 65535) throw bad(': the port must be 0-65535');
  const bracketed = m[1];
  if (bracketed !== undefined) {
    if (!isIPv6(bracketed)) throw bad(`: brackets are for IPv6 addresses, and "${bracketed}" is not one`);
    return { host: bracketed, port };
  }
  const host = m[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

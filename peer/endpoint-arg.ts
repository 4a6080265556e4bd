import { BurrowError } from '../src/errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port", "[v6]:port" or ":port" (any address). */
export function parseHostPort(text: string, what: string, defaultHost = '0.0.0.0'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${what} must look like HOST:PORT (for example 127.0.0.1:7000), got "${text}"`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

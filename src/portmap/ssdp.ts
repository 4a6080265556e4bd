/**
 * SSDP discovery of an Internet Gateway Device (UPnP Device Architecture 1.1
 * section 1.3), sans-I/O: the M-SEARCH request and the parse of its answer.
 */
import { BurrowError } from '../errors.js';

export const SSDP_PORT = 1900;
export const SSDP_MULTICAST = '239.255.255.250';
export const IGD_V1 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';
export const SSDP_ALL = 'ssdp:all';
/** An answer is a few hundred bytes; anything larger is not one. */
export const MAX_SSDP_RESPONSE = 2048;

export function encodeMSearch(searchTarget: string): Buffer {
  return Buffer.from(
    'M-SEARCH * HTTP/1.1\r\n' +
      `HOST: ${SSDP_MULTICAST}:${SSDP_PORT}\r\n` +
      'MAN: "ssdp:discover"\r\n' +
      'MX: 1\r\n' +
      `ST: ${searchTarget}\r\n` +
      '\r\n',
    'latin1',
  );
}

export interface SsdpAnswer {
  /** The device description URL (http only). */
  location: URL;
  /** The search target the answer is for. */
  st: string;
}

/**
 * Parses an M-SEARCH answer (an HTTP/1.1 200 response over UDP). Throws
 * ERR_PORTMAP_MALFORMED unless it is one with an http LOCATION.
 */
export function parseSsdpAnswer(data: Uint8Array): SsdpAnswer {
  if (data.length > MAX_SSDP_RESPONSE) throw malformed(`${data.length} bytes is larger than ${MAX_SSDP_RESPONSE}`);
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/.test(lines[0] ?? '')) throw malformed('not an HTTP 200 answer');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const loc = headers.get('location');
  if (loc === undefined) throw malformed('no LOCATION header');
  let location: URL;
  try {
    location = new URL(loc);
  } catch {
    throw malformed(`LOCATION ${JSON.stringify(loc.slice(0, 100))} is not a URL`);
  }
  if (location.protocol !== 'http:') throw malformed(`LOCATION ${location.protocol} is not http`);
  return { location, st: headers.get('st') ?? '' };
}

/** Whether an answer's search target can lead to an IGD (a later description parse decides). */
export function answerMayBeGateway(a: SsdpAnswer): boolean {
  return a.st === '' || /InternetGatewayDevice|WANIPConnection|WANPPPConnection|upnp:rootdevice/i.test(a.st) || a.st === SSDP_ALL;
}

function malformed(why: string): BurrowError {
  return new BurrowError('ERR_PORTMAP_MALFORMED', `SSDP: ${why}`);
}

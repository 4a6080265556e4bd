/**
 * Finds the WAN connection service in a UPnP device description. Not a full
 * XML parser: routers' XML is often sloppy, and all we need is each
 * <service>'s serviceType and controlURL (and URLBase). Size is bounded by the
 * caller's HTTP cap and checked again here.
 */
import { BurrowError } from '../errors.js';
import { at } from '../util/at.js';

export const MAX_DESCRIPTION_BYTES = 64 * 1024;

/** In order of preference (tailscale's: IGDv2's IP connection, then v1's, then PPP). */
export const WAN_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;
export type WanServiceType = (typeof WAN_SERVICE_TYPES)[number];

export interface WanService {
  serviceType: WanServiceType;
  /** Absolute http URL for SOAP requests. */
  controlUrl: URL;
}

/** One tag seen by the scanner: its local name (prefix dropped), whether it closes, and where it sits. */
export interface Tag {
  name: string;
  closing: boolean;
  /** <x/>: an element with no content. */
  selfClosing: boolean;
  /** Index of its '<'. */
  start: number;
  /** Index just past its '>'. */
  end: number;
}

/**
 * Every tag in `xml` in one linear pass (no regex backtracking, so a hostile
 * description cannot make us spin). Comments, declarations and processing
 * instructions are skipped.
 */
export function scanTags(xml: string, limit = 20_000): Tag[] {
  const tags: Tag[] = [];
  let i = 0;
  while (tags.length < limit) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const close = xml.indexOf('-->', lt + 4);
      if (close < 0) break;
      i = close + 3;
      continue;
    }
    const gt = xml.indexOf('>', lt + 1);
    if (gt < 0) break;
    i = gt + 1;
    const inner = xml.slice(lt + 1, gt);
    if (inner.startsWith('?') || inner.startsWith('!')) continue;
    const closing = inner.startsWith('/');
    const m = /^[\w.:-]+/.exec(closing ? inner.slice(1) : inner);
    if (!m) continue;
    const qname = m[0];
    tags.push({ name: qname.slice(qname.lastIndexOf(':') + 1), closing, selfClosing: !closing && inner.endsWith('/'), start: lt, end: gt + 1 });
  }
  return tags;
}

/** Raw inner text of each <tag>…</tag> (matched by local name) in order, at most `limit`. */
export function xmlBlocks(xml: string, tag: string, limit = 256, tags: Tag[] = scanTags(xml)): string[] {
  const out: string[] = [];
  for (let i = 0; i < tags.length && out.length < limit; i++) {
    const open = at(tags, i);
    if (open.closing || open.name !== tag) continue;
    if (open.selfClosing) {
      out.push('');
      continue;
    }
    let j = i + 1;
    let close = tags[j];
    while (close !== undefined && !(close.closing && close.name === tag)) close = tags[++j];
    if (close === undefined) break;
    out.push(xml.slice(open.end, close.start));
    i = j;
  }
  return out;
}

/** Text of the first <tag> element (matched by local name), trimmed and with entities decoded. */
export function xmlText(xml: string, tag: string): string | null {
  const first = xmlBlocks(xml, tag, 1)[0];
  return first === undefined ? null : decodeEntities(first.trim());
}

export function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (whole, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
    }
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/**
 * The most preferred WAN connection service in a description fetched from
 * `location`. Throws ERR_PORTMAP_MALFORMED when there is none or its control
 * URL is not http on the description's own host (a description must not send
 * our SOAP requests to a third machine).
 */
export function findWanService(xml: string, location: URL): WanService {
  if (xml.length > MAX_DESCRIPTION_BYTES) throw malformed(`description of ${xml.length} characters is too large`);
  const baseText = xmlText(xml, 'URLBase');
  let base = location;
  if (baseText !== null && baseText !== '') {
    try {
      base = new URL(baseText);
    } catch {
      /* a broken URLBase: resolve against the description's own URL */
    }
  }
  const found = new Map<WanServiceType, string>();
  for (const block of xmlBlocks(xml, 'service', 64)) {
    const type = xmlText(block, 'serviceType');
    const control = xmlText(block, 'controlURL');
    if (type === null || control === null) continue;
    const known = WAN_SERVICE_TYPES.find((t) => t === type);
    if (known !== undefined && !found.has(known)) found.set(known, control);
  }
  for (const type of WAN_SERVICE_TYPES) {
    const control = found.get(type);
    if (control === undefined) continue;
    let url: URL;
    try {
      url = new URL(control, base);
    } catch {
      throw malformed(`controlURL ${JSON.stringify(control.slice(0, 100))} is not a URL`);
    }
    if (url.protocol !== 'http:' || url.hostname !== location.hostname) {
      throw malformed(`controlURL ${url.href.slice(0, 100)} is not http on the gateway ${location.hostname}`);
    }
    return { serviceType: type, controlUrl: url };
  }
  throw malformed('no WANIPConnection or WANPPPConnection service in the device description');
}

function malformed(why: string): BurrowError {
  return new BurrowError('ERR_PORTMAP_MALFORMED', `UPnP: ${why}`);
}

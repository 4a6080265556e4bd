/**
 * UPnP IGD control over SOAP, sans-I/O: build an action request, read its
 * response or its UPnP fault. The actions we use (WANIPConnection v1/v2):
 * GetExternalIPAddress, AddPortMapping, AddAnyPortMapping (v2 only),
 * GetSpecificPortMappingEntry, DeletePortMapping.
 */
import { BurrowError } from '../errors.js';
import { scanTags, xmlBlocks, xmlText } from './igd-description.js';

export const MAX_SOAP_RESPONSE_BYTES = 16 * 1024;

/** UPnP error codes we act on or name (UPnP Device Architecture, WANIPConnection:2 section 2.4). */
export const UpnpErrorCode = {
  InvalidAction: 401,
  InvalidArgs: 402,
  ActionFailed: 501,
  ArgumentValueInvalid: 600,
  OptionalActionNotImplemented: 602,
  ActionNotAuthorized: 606,
  NoSuchEntryInArray: 714,
  WildCardNotPermittedInSrcIP: 715,
  WildCardNotPermittedInExtPort: 716,
  ConflictInMappingEntry: 718,
  SamePortValuesRequired: 724,
  OnlyPermanentLeasesSupported: 725,
  RemoteHostOnlySupportsWildcard: 726,
  ExternalPortOnlySupportsWildcard: 727,
  NoPortMapsAvailable: 728,
  ConflictWithOtherMechanisms: 729,
  WildCardNotPermittedInIntPort: 732,
} as const;

const ERROR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(UpnpErrorCode).map(([k, v]) => [v, k]));

export function upnpErrorName(code: number): string {
  return ERROR_NAMES[code] ?? 'UnknownError';
}

/** A UPnP action answered with a fault: the router refused, with `upnpCode` saying why. */
export class UpnpActionError extends BurrowError {
  readonly upnpCode: number;
  readonly action: string;

  constructor(action: string, upnpCode: number, description: string) {
    super('ERR_PORTMAP_REFUSED', `UPnP ${action} failed: ${upnpCode} ${upnpErrorName(upnpCode)}${description ? ` (${description})` : ''}`);
    this.name = 'UpnpActionError';
    this.upnpCode = upnpCode;
    this.action = action;
  }
}

export type SoapArgs = ReadonlyArray<readonly [string, string | number]>;

function escapeXmlChar(c: string): string {
  switch (c) {
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '&':
      return '&amp;';
    case '"':
      return '&quot;';
    case "'":
      return '&apos;';
    default:
      return c;
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, escapeXmlChar);
}

export interface SoapRequest {
  headers: Record<string, string>;
  body: Buffer;
}

/** The POST body and headers for `action` on `serviceType`. Argument order matters to some routers: keep the spec's. */
export function encodeSoapRequest(serviceType: string, action: string, args: SoapArgs): SoapRequest {
  if (!/^\w+$/.test(action)) throw new BurrowError('ERR_INVALID_ARGUMENT', `bad SOAP action name ${JSON.stringify(action)}`);
  const inner = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  const body = Buffer.from(
    '<?xml version="1.0"?>\r\n' +
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
      `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`,
    'utf8',
  );
  return {
    headers: {
      'Content-Type': 'text/xml; charset="utf-8"',
      SOAPAction: `"${serviceType}#${action}"`,
    },
    body,
  };
}

/**
 * Reads the response to `action`: its output arguments by name on success;
 * throws UpnpActionError for a UPnP fault, ERR_PORTMAP_MALFORMED for anything
 * else that is not a response to `action`.
 */
export function decodeSoapResponse(action: string, status: number, body: string): Map<string, string> {
  if (body.length > MAX_SOAP_RESPONSE_BYTES) throw malformed(`${action} response of ${body.length} characters is too large`);
  if (status !== 200) {
    const fault = xmlBlocks(body, 'UPnPError', 1)[0];
    const codeText = fault === undefined ? null : xmlText(fault, 'errorCode');
    if (codeText !== null && /^\d{1,4}$/.test(codeText)) {
      throw new UpnpActionError(action, Number(codeText), (xmlText(fault ?? '', 'errorDescription') ?? '').slice(0, 200));
    }
    throw malformed(`${action} answered HTTP ${status} without a UPnP error code`);
  }
  const tags = scanTags(body);
  const inner = xmlBlocks(body, `${action}Response`, 1, tags)[0];
  if (inner === undefined) throw malformed(`no ${action}Response element in the answer`);
  const out = new Map<string, string>();
  for (const t of scanTags(inner, 64)) {
    if (t.closing || out.has(t.name)) continue;
    const v = xmlText(inner, t.name);
    if (v !== null) out.set(t.name, v);
  }
  return out;
}

function malformed(why: string): BurrowError {
  return new BurrowError('ERR_PORTMAP_MALFORMED', `UPnP: ${why}`);
}

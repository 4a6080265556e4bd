/**
 * UPnP IGD (v1 and v2) over HTTP: read the device description, then the SOAP
 * actions a mapping needs. Errors come back as BurrowErrors (UpnpActionError
 * carries the router's UPnP error code).
 */
import type { RandomSource } from '../clock/random.js';
import { BurrowError, isBurrowError } from '../errors.js';
import type { HttpClient } from './http-client.js';
import { MAX_DESCRIPTION_BYTES, findWanService, type WanService } from './igd-description.js';
import type { MapOutcome } from './pmp-pcp-client.js';
import { MAX_SOAP_RESPONSE_BYTES, UpnpActionError, UpnpErrorCode, decodeSoapResponse, encodeSoapRequest, type SoapArgs } from './soap.js';

export const MAPPING_DESCRIPTION = 'burrow';

export interface UpnpMapRequest {
  internalClient: string;
  internalPort: number;
  suggestedExternalPort: number;
  lifetimeSeconds: number;
  /** On a refresh: first ask whether the router still has the mapping. */
  refresh: boolean;
}

export class UpnpGateway {
  /** Set after a router said it only supports permanent leases (error 725). */
  private permanentOnly = false;

  private constructor(
    readonly service: WanService,
    private readonly http: HttpClient,
    private readonly timeoutMs: number,
    private readonly random: RandomSource,
  ) {}

  /** Fetches and reads the description at `location`. */
  static async open(location: URL, http: HttpClient, timeoutMs: number, random: RandomSource): Promise<UpnpGateway> {
    const res = await http(location, { method: 'GET', timeoutMs, maxBytes: MAX_DESCRIPTION_BYTES });
    if (res.status !== 200) throw new BurrowError('ERR_PORTMAP_MALFORMED', `UPnP: description ${location.href} answered HTTP ${res.status}`);
    return new UpnpGateway(findWanService(res.body, location), http, timeoutMs, random);
  }

  get isV2(): boolean {
    return this.service.serviceType.endsWith(':2');
  }

  async call(action: string, args: SoapArgs): Promise<Map<string, string>> {
    const req = encodeSoapRequest(this.service.serviceType, action, args);
    const res = await this.http(this.service.controlUrl, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_SOAP_RESPONSE_BYTES,
    });
    return decodeSoapResponse(action, res.status, res.body);
  }

  async externalAddress(): Promise<string> {
    const out = await this.call('GetExternalIPAddress', []);
    const ip = out.get('NewExternalIPAddress');
    if (ip === undefined) throw new BurrowError('ERR_PORTMAP_MALFORMED', 'UPnP: GetExternalIPAddress answered without NewExternalIPAddress');
    return ip;
  }

  /** Whether the router holds a UDP mapping on `externalPort` (false on NoSuchEntryInArray). */
  async hasMapping(externalPort: number): Promise<boolean> {
    try {
      await this.call('GetSpecificPortMappingEntry', [
        ['NewRemoteHost', ''],
        ['NewExternalPort', externalPort],
        ['NewProtocol', 'UDP'],
      ]);
      return true;
    } catch (e) {
      if (e instanceof UpnpActionError && e.upnpCode === UpnpErrorCode.NoSuchEntryInArray) return false;
      throw e;
    }
  }

  async deleteMapping(externalPort: number): Promise<void> {
    await this.call('DeletePortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', externalPort],
      ['NewProtocol', 'UDP'],
    ]);
  }

  /** Adds (or renews) the mapping; AddAnyPortMapping on v2, AddPortMapping otherwise or as the fallback. */
  async map(req: UpnpMapRequest): Promise<MapOutcome> {
    try {
      let previousMissing = false;
      if (req.refresh) previousMissing = !(await this.hasMapping(req.suggestedExternalPort));
      const externalPort = await this.add(req);
      const externalAddress = await this.externalAddress();
      return {
        ok: true,
        grant: {
          protocol: 'upnp',
          externalAddress,
          externalPort,
          // A permanent lease is still refreshed on our schedule: that is how we notice a router that forgot it.
          lifetimeSeconds: req.lifetimeSeconds,
          ...(previousMissing ? { previousMissing } : {}),
        },
      };
    } catch (e) {
      if (isBurrowError(e, 'ERR_PORTMAP_UNREACHABLE')) return { ok: false, reason: e.message, unreachable: true };
      return { ok: false, reason: isBurrowError(e) ? e.message : `unexpected: ${String(e)}` };
    }
  }

  private async add(req: UpnpMapRequest): Promise<number> {
    if (this.isV2 && !req.refresh) {
      try {
        const out = await this.call('AddAnyPortMapping', this.mappingArgs(req, req.suggestedExternalPort));
        const port = Number(out.get('NewReservedPort'));
        if (Number.isInteger(port) && port > 0 && port <= 65535) return port;
      } catch (e) {
        if (!(e instanceof UpnpActionError)) throw e;
        // Fall back to AddPortMapping for any refusal (some v2 routers implement AddAnyPortMapping badly).
      }
    }
    let port = req.suggestedExternalPort;
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await this.call('AddPortMapping', this.mappingArgs(req, port));
        return port;
      } catch (e) {
        if (!(e instanceof UpnpActionError)) throw e;
        const code = e.upnpCode;
        if ((code === UpnpErrorCode.OnlyPermanentLeasesSupported || code === UpnpErrorCode.InvalidArgs) && !this.permanentOnly) {
          this.permanentOnly = true;
          continue;
        }
        if (code === UpnpErrorCode.ConflictInMappingEntry && !req.refresh) {
          port = 1024 + Math.floor(this.random.next() * (65536 - 1024));
          continue;
        }
        throw e;
      }
    }
    throw new BurrowError('ERR_PORTMAP_REFUSED', 'UPnP: AddPortMapping kept failing');
  }

  private mappingArgs(req: UpnpMapRequest, externalPort: number): SoapArgs {
    return [
      ['NewRemoteHost', ''],
      ['NewExternalPort', externalPort],
      ['NewProtocol', 'UDP'],
      ['NewInternalPort', req.internalPort],
      ['NewInternalClient', req.internalClient],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', MAPPING_DESCRIPTION],
      ['NewLeaseDuration', this.permanentOnly ? 0 : req.lifetimeSeconds],
    ];
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BurrowError, isBurrowError } from '../../src/errors.js';
import { findWanService, xmlText } from '../../src/portmap/igd-description.js';
import { UpnpActionError, decodeSoapResponse, encodeSoapRequest } from '../../src/portmap/soap.js';
import { IGD_V1, encodeMSearch, parseSsdpAnswer } from '../../src/portmap/ssdp.js';

const LOCATION = new URL('http://192.168.77.1:45899/rootDesc.xml');

function description(services: Array<[string, string]>, urlBase = ''): string {
  const svc = services
    .map(([type, ctl]) => `<service><serviceType>${type}</serviceType><serviceId>x</serviceId><controlURL>${ctl}</controlURL></service>`)
    .join('');
  return `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">${urlBase ? `<URLBase>${urlBase}</URLBase>` : ''}
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><!-- <service><serviceType>fake</serviceType></service> -->
<deviceList><device><deviceList><device><serviceList>${svc}</serviceList></device></deviceList></device></deviceList></device></root>`;
}

test('M-SEARCH names the target, the multicast host and MX', () => {
  const text = encodeMSearch(IGD_V1).toString('latin1');
  assert.match(text, /^M-SEARCH \* HTTP\/1\.1\r\n/);
  assert.match(text, /\r\nHOST: 239\.255\.255\.250:1900\r\n/);
  assert.match(text, /\r\nMAN: "ssdp:discover"\r\n/);
  assert.match(text, /\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n$/);
});

test('an SSDP answer gives its LOCATION (headers in any case); non-answers are malformed', () => {
  const a = parseSsdpAnswer(Buffer.from(`HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nst: ${IGD_V1}\r\nLocation: ${LOCATION.href}\r\n\r\n`));
  assert.equal(a.location.href, LOCATION.href);
  assert.equal(a.st, IGD_V1);
  for (const bad of [
    'NOTIFY * HTTP/1.1\r\nLOCATION: http://a/\r\n\r\n',
    'HTTP/1.1 200 OK\r\nST: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nLOCATION: https://192.168.1.1/x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nLOCATION: not a url\r\n\r\n',
    `HTTP/1.1 200 OK\r\nLOCATION: http://a/\r\nX: ${'y'.repeat(3000)}\r\n\r\n`,
  ]) {
    assert.throws(() => parseSsdpAnswer(Buffer.from(bad)), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'), bad.slice(0, 40));
  }
});

test('the description yields WANIPConnection:2 over :1 over WANPPPConnection:1, resolved against the location', () => {
  const all = description([
    ['urn:schemas-upnp-org:service:WANPPPConnection:1', '/ppp'],
    ['urn:schemas-upnp-org:service:WANIPConnection:1', '/ip1'],
    ['urn:schemas-upnp-org:service:WANIPConnection:2', '/ctl/IPConn'],
  ]);
  const v2 = findWanService(all, LOCATION);
  assert.equal(v2.serviceType, 'urn:schemas-upnp-org:service:WANIPConnection:2');
  assert.equal(v2.controlUrl.href, 'http://192.168.77.1:45899/ctl/IPConn');
  const v1 = findWanService(description([['urn:schemas-upnp-org:service:WANPPPConnection:1', '/ppp'], ['urn:schemas-upnp-org:service:WANIPConnection:1', 'ip1']]), LOCATION);
  assert.equal(v1.serviceType, 'urn:schemas-upnp-org:service:WANIPConnection:1');
  assert.equal(v1.controlUrl.href, 'http://192.168.77.1:45899/ip1');
  const ppp = findWanService(description([['urn:schemas-upnp-org:service:WANPPPConnection:1', '/ppp']], 'http://192.168.77.1:5000/'), LOCATION);
  assert.equal(ppp.controlUrl.href, 'http://192.168.77.1:5000/ppp');
});

test('a description without a WAN service, or sending SOAP to another host, is refused', () => {
  assert.throws(() => findWanService(description([['urn:schemas-upnp-org:service:Layer3Forwarding:1', '/l3f']]), LOCATION), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
  assert.throws(
    () => findWanService(description([['urn:schemas-upnp-org:service:WANIPConnection:1', 'http://203.0.113.9/ctl']]), LOCATION),
    (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED') && /not http on the gateway/.test(e.message),
  );
});

test('the tag scanner tolerates prefixes, attributes, entities, and is linear on hostile input', () => {
  assert.equal(xmlText('<a:x foo="1">a &amp; b &#65;&#x42;</a:x >', 'x'), 'a & b AB');
  assert.equal(xmlText('<x/>', 'x'), '');
  const hostile = '<service>'.repeat(7000) + '<serviceType>'.repeat(1000);
  const t0 = performance.now();
  assert.throws(() => findWanService(hostile, LOCATION), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
  assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
});

test('SOAP requests carry the action, the service type and escaped arguments in order', () => {
  const r = encodeSoapRequest('urn:schemas-upnp-org:service:WANIPConnection:1', 'AddPortMapping', [
    ['NewRemoteHost', ''],
    ['NewExternalPort', 40000],
    ['NewPortMappingDescription', 'a<b&c'],
  ]);
  assert.equal(r.headers.SOAPAction, '"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"');
  const body = r.body.toString();
  assert.match(body, /<u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewRemoteHost><\/NewRemoteHost><NewExternalPort>40000<\/NewExternalPort><NewPortMappingDescription>a&lt;b&amp;c<\/NewPortMappingDescription><\/u:AddPortMapping>/);
  assert.throws(() => encodeSoapRequest('x', 'Bad Action', []), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
});

test('SOAP responses: output arguments, an empty (self-closing) response, and UPnP faults as typed errors', () => {
  const ok = `<?xml version="1.0"?><s:Envelope><s:Body><u:GetExternalIPAddressResponse xmlns:u="x"><NewExternalIPAddress>11.0.0.1</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>`;
  assert.equal(decodeSoapResponse('GetExternalIPAddress', 200, ok).get('NewExternalIPAddress'), '11.0.0.1');
  const empty = `<s:Envelope><s:Body><u:AddPortMappingResponse xmlns:u="x"/></s:Body></s:Envelope>`;
  assert.equal(decodeSoapResponse('AddPortMapping', 200, empty).size, 0);
  const fault = (code: number) =>
    `<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>d</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`;
  for (const [code, name] of [[718, 'ConflictInMappingEntry'], [725, 'OnlyPermanentLeasesSupported'], [402, 'InvalidArgs'], [501, 'ActionFailed'], [606, 'ActionNotAuthorized']] as const) {
    assert.throws(
      () => decodeSoapResponse('AddPortMapping', 500, fault(code)),
      (e) => e instanceof UpnpActionError && e.upnpCode === code && e.code === 'ERR_PORTMAP_REFUSED' && e.message.includes(name),
    );
  }
  assert.throws(() => decodeSoapResponse('AddPortMapping', 500, 'oops'), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
  assert.throws(() => decodeSoapResponse('AddPortMapping', 200, ok), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
  assert.throws(() => decodeSoapResponse('AddPortMapping', 200, 'x'.repeat(20_000)), (e) => isBurrowError(e, 'ERR_PORTMAP_MALFORMED'));
});

test('fuzz: SSDP, description and SOAP parsers fail only with BurrowErrors', () => {
  const xmlish = fc.array(fc.constantFrom('<', '>', '/', 'service', 'serviceType', 'controlURL', 'urn:schemas-upnp-org:service:WANIPConnection:1', 'http://192.168.77.1/c', ':', ' ', '&amp;', '&#x0;', 'x', 'UPnPError', 'errorCode', '718', 'AddPortMappingResponse'), { maxLength: 80 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(xmlish, fc.integer({ min: 100, max: 599 }), (xml, status) => {
      for (const f of [() => findWanService(xml, LOCATION), () => decodeSoapResponse('AddPortMapping', status, xml), () => parseSsdpAnswer(Buffer.from(`HTTP/1.1 200 OK\r\n${xml}`))]) {
        try {
          f();
        } catch (e) {
          assert.ok(e instanceof BurrowError, String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});

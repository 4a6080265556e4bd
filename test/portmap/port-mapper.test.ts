/**
 * The PortMapper shell on a virtual clock, against scripted routers: a fake
 * UDP socket answers as NAT-PMP/PCP/SSDP would, a fake HTTP client as a UPnP
 * control point. Checks what travels on the wire and when.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import type { RandomSource } from '../../src/clock/random.js';
import type { UdpEndpoint, UdpMessageHandler, UdpSocket } from '../../src/net/udp-socket.js';
import type { HttpClient, HttpRequestOptions } from '../../src/portmap/http-client.js';
import { PortMapper, type PortMapEvent } from '../../src/portmap/index.js';

const GW = '192.168.77.1';
const ME = '192.168.77.2';

type Reply = (data: Buffer) => void;
/** Decides what the router answers to one datagram. */
type RouterScript = (data: Buffer, to: UdpEndpoint, reply: Reply, replyFrom: (port: number, data: Buffer) => void) => void;

class FakeSocket implements UdpSocket {
  closed = false;
  private handler: UdpMessageHandler = () => {};
  readonly sent: Array<{ at: number; data: Buffer; to: UdpEndpoint }> = [];
  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly router: RouterScript,
  ) {}
  send(data: Uint8Array, to: UdpEndpoint): void {
    const copy = Buffer.from(data);
    this.sent.push({ at: this.scheduler.now(), data: copy, to });
    const deliver = (port: number, reply: Buffer) =>
      this.scheduler.at(this.scheduler.now() + 2, () => {
        if (!this.closed) this.handler(reply, { address: GW, port });
      });
    this.router(copy, to, (r) => deliver(5351, r), deliver);
  }
  onMessage(h: UdpMessageHandler): void {
    this.handler = h;
  }
  onError(): void {}
  localEndpoint(): UdpEndpoint {
    return { address: ME, port: 50000 };
  }
  setTtl(): void {}
  close(): void {
    this.closed = true;
  }
}

const fixedRandom: RandomSource = { bytes: (n) => Buffer.alloc(n, 0xab), next: () => 0.5 };

function natPmpMapAnswer(req: Buffer, epoch: number): Buffer {
  const b = Buffer.alloc(16);
  b[1] = 129;
  b.writeUInt32BE(epoch, 4);
  b.writeUInt16BE(req.readUInt16BE(4), 8);
  b.writeUInt16BE(req.readUInt16BE(6) || req.readUInt16BE(4), 10);
  b.writeUInt32BE(req.readUInt32BE(8), 12);
  return b;
}

function natPmpAddressAnswer(epoch: number, ip = [11, 0, 0, 1]): Buffer {
  const b = Buffer.from([0, 128, 0, 0, 0, 0, 0, 0, ...ip]);
  b.writeUInt32BE(epoch, 4);
  return b;
}

function pcpMapAnswer(req: Buffer, nonce?: Buffer): Buffer {
  const b = Buffer.alloc(60);
  b[0] = 2;
  b[1] = 0x81;
  b.writeUInt32BE(req.readUInt32BE(4), 4);
  b.writeUInt32BE(10, 8);
  (nonce ?? req.subarray(24, 36)).copy(b, 24);
  b[36] = 17;
  b.writeUInt16BE(req.readUInt16BE(40), 40);
  b.writeUInt16BE(req.readUInt16BE(42), 42);
  b[54] = 0xff;
  b[55] = 0xff;
  Buffer.from([11, 0, 0, 1]).copy(b, 56);
  return b;
}

/** Closes the mapper while driving the virtual clock (the release exchange needs time to pass). */
async function closeMapper(scheduler: VirtualScheduler, pm: PortMapper): Promise<void> {
  let done = false;
  const closing = pm.close().then(() => {
    done = true;
  });
  assert.ok(await scheduler.runUntil(() => done, { maxTime: scheduler.now() + 10_000 }), 'close did not finish');
  await closing;
}

async function startMapper(
  scheduler: VirtualScheduler,
  router: RouterScript,
  extra: Partial<Parameters<typeof PortMapper.start>[0]> = {},
): Promise<{ pm: PortMapper; socket: FakeSocket; events: PortMapEvent[] }> {
  const socket = new FakeSocket(scheduler, router);
  const events: PortMapEvent[] = [];
  const pm = await PortMapper.start({
    internalPort: 40000,
    gateway: GW,
    localAddress: ME,
    onEvent: (e) => events.push(e),
    udp: () => socket,
    scheduler,
    random: fixedRandom,
    http: async () => ({ status: 404, body: '' }),
    ...extra,
  });
  return { pm, socket, events };
}

test('probes all three protocols at once, then maps with the one that answered (NAT-PMP), retransmitting at 250 ms doubling', async () => {
  const scheduler = new VirtualScheduler(1000);
  let mapRequests = 0;
  const { pm, socket, events } = await startMapper(scheduler, (data, to, reply) => {
    if (to.port !== 5351 || data[0] !== 0) return; // no PCP, no UPnP here
    if (data[1] === 0) reply(natPmpAddressAnswer(7));
    else if (data[1] === 1 && ++mapRequests > 2) reply(natPmpMapAnswer(data, 7)); // the first two are lost
  });
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 20_000 }));
  assert.deepEqual(events, [{ type: 'mapped', protocol: 'natpmp', externalAddress: '11.0.0.1', externalPort: 40000, lifetimeSeconds: 7200 }]);
  const probes = socket.sent.filter((s) => s.at === 1000);
  assert.equal(probes.filter((s) => s.to.port === 5351 && s.data[0] === 0).length, 1, 'one NAT-PMP probe');
  assert.equal(probes.filter((s) => s.to.port === 5351 && s.data[0] === 2).length, 1, 'one PCP probe');
  assert.deepEqual(
    probes.filter((s) => s.to.port === 1900).map((s) => s.to.address),
    [GW, '239.255.255.250', '239.255.255.250'],
    'SSDP: unicast to the gateway first, then multicast',
  );
  const maps = socket.sent.filter((s) => s.data[0] === 0 && s.data[1] === 1);
  assert.equal(maps.length, 3);
  assert.deepEqual([maps[1]!.at - maps[0]!.at, maps[2]!.at - maps[1]!.at], [250, 500]);
  assert.equal(maps[0]!.data.readUInt32BE(8), 7200, 'lifetime in seconds');
  await closeMapper(scheduler, pm);
});

test('PCP: an answer with another nonce is ignored; refresh keeps the nonce; close deletes with lifetime 0', async () => {
  const scheduler = new VirtualScheduler(0);
  const { pm, socket, events } = await startMapper(
    scheduler,
    (data, to, reply) => {
      if (to.port !== 5351 || data[0] !== 2) return;
      if (data[1] === 0) {
        reply(Buffer.concat([Buffer.from([2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), Buffer.alloc(12)]));
        return;
      }
      reply(pcpMapAnswer(data, Buffer.alloc(12, 0x11))); // forged: wrong nonce
      reply(pcpMapAnswer(data));
    },
    { protocols: ['pcp'], lifetimeSeconds: 120, maxRefreshIntervalMs: 5000 },
  );
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 10_000 }));
  assert.equal(events[0]?.type, 'mapped');
  assert.ok(pm.dropped >= 1, 'the forged answer was dropped');
  await scheduler.advance(5100);
  const maps = socket.sent.filter((s) => s.data[0] === 2 && s.data[1] === 1);
  assert.equal(maps.length, 2, 'mapped, then refreshed once');
  assert.ok(maps[0]!.data.subarray(24, 36).equals(maps[1]!.data.subarray(24, 36)), 'same nonce on refresh');
  await closeMapper(scheduler, pm);
  const del = socket.sent.filter((s) => s.data[0] === 2 && s.data[1] === 1).at(-1)!;
  assert.equal(del.data.readUInt32BE(4), 0, 'delete = lifetime 0');
  assert.ok(socket.closed);
});

test('a PCP-only router answers the NAT-PMP probe with a version-2 UNSUPP_VERSION: not taken as the PCP probe\'s answer', async () => {
  const scheduler = new VirtualScheduler(0);
  const { pm, events } = await startMapper(scheduler, (data, to, reply) => {
    if (to.port !== 5351) return;
    if (data[0] !== 2) {
      // RFC 6887 section 9: a version it does not speak gets UNSUPP_VERSION (1) naming version 2; opcode 0x80 as the request's was 0.
      reply(Buffer.concat([Buffer.from([2, 0x80 | (data[1] ?? 0), 0, 1]), Buffer.alloc(20)]));
      return;
    }
    if (data[1] === 0) reply(Buffer.concat([Buffer.from([2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), Buffer.alloc(12)]));
    else reply(pcpMapAnswer(data));
  });
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 10_000 }));
  assert.equal(events[0]?.type, 'mapped', JSON.stringify(events));
  assert.deepEqual(pm.lastProbe, new Set(['pcp']));
  assert.equal(pm.mapping?.protocol, 'pcp');
  await closeMapper(scheduler, pm);
});

test('garbage from the gateway and datagrams from other hosts are dropped and counted, never thrown', async () => {
  const scheduler = new VirtualScheduler(0);
  const { pm, events } = await startMapper(scheduler, (data, to, reply, replyFrom) => {
    if (to.port === 1900) replyFrom(1900, Buffer.from('HTTP/1.1 200 OK\r\nno location\r\n\r\n'));
    if (to.port !== 5351) return;
    reply(Buffer.from([0xff, 0xff, 0xff]));
    reply(Buffer.alloc(2000, 7));
    if (data[0] === 0 && data[1] === 0) reply(natPmpAddressAnswer(1));
    if (data[0] === 0 && data[1] === 1) reply(natPmpMapAnswer(data, 1));
  });
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 10_000 }));
  assert.equal(events[0]?.type, 'mapped');
  assert.ok(pm.dropped >= 4, `dropped ${pm.dropped}`);
  await closeMapper(scheduler, pm);
});

test('UPnP IGDv2: AddAnyPortMapping refused, AddPortMapping says permanent leases only (725), retried with lease 0; close deletes', async () => {
  const scheduler = new VirtualScheduler(0);
  const calls: Array<{ action: string; body: string }> = [];
  const fault = (code: number) => ({
    status: 500,
    body: `<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>${code}</errorCode></UPnPError></detail></s:Fault></s:Body></s:Envelope>`,
  });
  const http: HttpClient = async (url: URL, opts: HttpRequestOptions) => {
    if (opts.method === 'GET') {
      assert.equal(url.href, 'http://192.168.77.1:5000/desc.xml');
      return {
        status: 200,
        body: `<root><URLBase>http://192.168.77.1:5000</URLBase><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl</controlURL></service></serviceList></device></root>`,
      };
    }
    const action = /#(\w+)"/.exec(opts.headers?.SOAPAction ?? '')![1]!;
    const body = opts.body!.toString();
    calls.push({ action, body });
    if (action === 'AddAnyPortMapping') return fault(401);
    if (action === 'AddPortMapping') return /<NewLeaseDuration>0</.test(body) ? { status: 200, body: '<u:AddPortMappingResponse/>' } : fault(725);
    if (action === 'GetExternalIPAddress') {
      return { status: 200, body: '<u:GetExternalIPAddressResponse><NewExternalIPAddress>11.0.0.1</NewExternalIPAddress></u:GetExternalIPAddressResponse>' };
    }
    if (action === 'DeletePortMapping') return { status: 200, body: '<u:DeletePortMappingResponse/>' };
    return fault(401);
  };
  const { pm, events } = await startMapper(
    scheduler,
    (_data, to, _reply, replyFrom) => {
      if (to.port === 1900) replyFrom(1900, Buffer.from('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.77.1:5000/desc.xml\r\n\r\n'));
    },
    { protocols: ['upnp'], http },
  );
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 10_000 }));
  assert.deepEqual(events, [{ type: 'mapped', protocol: 'upnp', externalAddress: '11.0.0.1', externalPort: 40000, lifetimeSeconds: 7200 }]);
  assert.deepEqual(calls.map((c) => c.action), ['AddAnyPortMapping', 'AddPortMapping', 'AddPortMapping', 'GetExternalIPAddress']);
  assert.match(calls[1]!.body, /<NewInternalClient>192\.168\.77\.2<\/NewInternalClient>.*<NewLeaseDuration>7200</);
  await closeMapper(scheduler, pm);
  assert.equal(calls.at(-1)?.action, 'DeletePortMapping');
  assert.match(calls.at(-1)!.body, /<NewExternalPort>40000<\/NewExternalPort><NewProtocol>UDP</);
});

test('a router that grants a zero lifetime is a refusal, not a mapping to refresh in a loop', async () => {
  const scheduler = new VirtualScheduler(0);
  const { pm, events } = await startMapper(
    scheduler,
    (data, to, reply) => {
      if (to.port !== 5351 || data[0] !== 0) return;
      if (data[1] === 0) reply(natPmpAddressAnswer(1));
      if (data[1] === 1) {
        const a = natPmpMapAnswer(data, 1);
        a.writeUInt32BE(0, 12);
        reply(a);
      }
    },
    { protocols: ['natpmp'] },
  );
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 10_000 }));
  assert.equal(events[0]?.type, 'failed');
  assert.match(JSON.stringify(events[0]), /granted no lifetime/);
  await closeMapper(scheduler, pm);
});

test('once NAT-PMP answered the probe, UPnP gets only a 50 ms grace: the first map request goes out well inside a session grace of 300 ms', async () => {
  const scheduler = new VirtualScheduler(1000);
  const { pm, socket, events } = await startMapper(
    scheduler,
    (data, to, reply) => {
      // NAT-PMP answers at once; no UPnP device ever answers the SSDP search.
      if (to.port !== 5351 || data[0] !== 0) return;
      if (data[1] === 0) reply(natPmpAddressAnswer(7));
      if (data[1] === 1) reply(natPmpMapAnswer(data, 7));
    },
    { protocols: ['natpmp', 'upnp'] },
  );
  assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 5000 }));
  const firstMap = socket.sent.find((s) => s.to.port === 5351 && s.data[0] === 0 && s.data[1] === 1);
  assert.ok(firstMap !== undefined, 'a NAT-PMP map request was sent');
  // The answer takes 2 ms, then 50 ms of grace for UPnP: old code waited the whole 1 s SSDP search.
  assert.equal(firstMap.at - 1000, 52, `first map request at +${firstMap.at - 1000} ms`);
  assert.equal(events[0]?.type, 'mapped');
  assert.deepEqual([...(pm.lastProbe ?? [])], ['natpmp'], 'UPnP did not answer within the grace');
  await closeMapper(scheduler, pm);
});

test('a UPnP answer inside the grace still counts; a NAT-PMP refusal to the probe, or probeEveryProtocol, leaves UPnP its full wait', async () => {
  // Case 1: SSDP answers 30 ms after NAT-PMP did: UPnP is listed as available.
  {
    const scheduler = new VirtualScheduler(0);
    const { pm, events } = await startMapper(
      scheduler,
      (data, to, reply, replyFrom) => {
        if (to.port === 1900 && to.address === GW) {
          scheduler.at(scheduler.now() + 30, () => replyFrom(1900, Buffer.from('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.77.1:5000/desc.xml\r\n\r\n')));
        }
        if (to.port !== 5351 || data[0] !== 0) return;
        if (data[1] === 0) reply(natPmpAddressAnswer(7));
        if (data[1] === 1) reply(natPmpMapAnswer(data, 7));
      },
      { protocols: ['natpmp', 'upnp'] },
    );
    assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 5000 }));
    assert.deepEqual(new Set(pm.lastProbe ?? []), new Set(['natpmp', 'upnp']));
    await closeMapper(scheduler, pm);
  }
  // Case 2: NAT-PMP answers the probe with "network failure" (3): no shortening, the search runs its full 1 s.
  {
    const scheduler = new VirtualScheduler(0);
    const { pm, socket, events } = await startMapper(
      scheduler,
      (data, to, reply) => {
        if (to.port !== 5351 || data[0] !== 0) return;
        const refusal = natPmpAddressAnswer(7, [0, 0, 0, 0]);
        refusal.writeUInt16BE(3, 2);
        if (data[1] === 0) reply(refusal);
      },
      { protocols: ['natpmp', 'upnp'] },
    );
    assert.ok(await scheduler.runUntil(() => socket.sent.some((s) => s.data[0] === 0 && s.data[1] === 1), { maxTime: 5000 }));
    const firstMap = socket.sent.find((s) => s.data[0] === 0 && s.data[1] === 1);
    assert.equal(firstMap?.at, 1000, 'the probe waited the whole SSDP search');
    assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 20_000 }));
    await closeMapper(scheduler, pm);
  }  // Case 3: probeEveryProtocol (for reports): NAT-PMP answered with success, still the whole search.
  {
    const scheduler = new VirtualScheduler(0);
    const { pm, socket, events } = await startMapper(
      scheduler,
      (data, to, reply) => {
        if (to.port !== 5351 || data[0] !== 0) return;
        if (data[1] === 0) reply(natPmpAddressAnswer(7));
        if (data[1] === 1) reply(natPmpMapAnswer(data, 7));
      },
      { protocols: ['natpmp', 'upnp'], probeEveryProtocol: true },
    );
    assert.ok(await scheduler.runUntil(() => events.length > 0, { maxTime: 5000 }));
    assert.equal(socket.sent.find((s) => s.data[0] === 0 && s.data[1] === 1)?.at, 1000, 'the report waits for UPnP');
    await closeMapper(scheduler, pm);
  }
});

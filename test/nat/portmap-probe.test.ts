/**
 * The port-mapping probe of `burrow nat` on a virtual clock against scripted
 * routers: it reports what answered and what was granted, deletes the test
 * mapping before it returns, closes every socket, and costs about the probe's
 * bound when nothing answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import type { UdpEndpoint, UdpMessageHandler, UdpSocket } from '../../src/net/udp-socket.js';
import { probePortMapping } from '../../src/nat/portmap-probe.js';
import type { PortMapObservations } from '../../src/nat/portmap-report.js';

const GW = '192.168.77.1';
const ME = '192.168.77.2';
const INTERNAL_PORT = 41000;

/** `reply` answers from the gateway's port 5351 after 2 ms unless told another port and delay (SSDP). */
type RouterScript = (data: Buffer, to: UdpEndpoint, reply: (data: Buffer, fromPort?: number, delayMs?: number) => void) => void;

class FakeSocket implements UdpSocket {
  closed = false;
  private handler: UdpMessageHandler = () => {};
  readonly sent: Array<{ at: number; data: Buffer; to: UdpEndpoint }> = [];
  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly port: number,
    private readonly router: RouterScript | null,
  ) {}
  send(data: Uint8Array, to: UdpEndpoint): void {
    const copy = Buffer.from(data);
    this.sent.push({ at: this.scheduler.now(), data: copy, to });
    this.router?.(copy, to, (r, fromPort = 5351, delayMs = 2) =>
      this.scheduler.at(this.scheduler.now() + delayMs, () => {
        if (!this.closed) this.handler(r, { address: GW, port: fromPort });
      }),
    );
  }
  onMessage(h: UdpMessageHandler): void {
    this.handler = h;
  }
  onError(): void {}
  localEndpoint(): UdpEndpoint {
    return { address: ME, port: this.port };
  }
  setTtl(): void {}
  close(): void {
    this.closed = true;
  }
}

function natPmpAddressAnswer(ip: number[]): Buffer {
  return Buffer.from([0, 128, 0, 0, 0, 0, 0, 9, ...ip]);
}

function natPmpMapAnswer(req: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b[1] = 129;
  b.writeUInt32BE(9, 4);
  b.writeUInt16BE(req.readUInt16BE(4), 8);
  b.writeUInt16BE(req.readUInt16BE(6) || req.readUInt16BE(4), 10);
  b.writeUInt32BE(req.readUInt32BE(8), 12);
  return b;
}

/** A NAT-PMP-only router with `wan` as its external address. */
const natPmpRouter =
  (wan: number[]): RouterScript =>
  (data, to, reply) => {
    if (to.port !== 5351 || data[0] !== 0) return;
    if (data[1] === 0) reply(natPmpAddressAnswer(wan));
    else if (data[1] === 1) reply(natPmpMapAnswer(data));
  };

async function runProbe(router: RouterScript, verdictMs?: number): Promise<{ obs: PortMapObservations; sockets: FakeSocket[]; control: FakeSocket }> {
  const scheduler = new VirtualScheduler(1000);
  const sockets: FakeSocket[] = [];
  const udp = (address?: string): UdpSocket => {
    assert.equal(address, ME, 'sockets are bound to our address towards the gateway');
    // The first socket is the one whose port gets mapped; the second is the mapper's control socket.
    const s = new FakeSocket(scheduler, sockets.length === 0 ? INTERNAL_PORT : 50000, sockets.length === 0 ? null : router);
    sockets.push(s);
    return s;
  };
  let obs: PortMapObservations | null = null;
  const running = probePortMapping({
    gateway: GW,
    localAddress: ME,
    udp,
    scheduler,
    lifetimeSeconds: 120,
    ...(verdictMs !== undefined ? { verdictMs } : {}),
    mapper: { random: { bytes: (n) => Buffer.alloc(n, 0xab), next: () => 0.5 }, http: async () => ({ status: 404, body: '' }) },
  }).then((o) => {
    obs = o;
  });
  assert.ok(await scheduler.runUntil(() => obs !== null, { maxTime: 30_000 }), 'the probe did not finish');
  await running;
  return { obs: obs!, sockets, control: sockets[1]! };
}

test('a NAT-PMP router: answered, mapped for the asked lifetime, and the test mapping deleted before the probe returns', async () => {
  const { obs, sockets, control } = await runProbe(natPmpRouter([11, 0, 0, 1]));
  assert.equal(obs.gateway, GW);
  assert.deepEqual([...obs.answered], ['natpmp']);
  assert.deepEqual(obs.verdict, { type: 'mapped', protocol: 'natpmp', externalAddress: '11.0.0.1', externalPort: INTERNAL_PORT, lifetimeSeconds: 120 });
  assert.equal(obs.release, 'deleted');
  const maps = control.sent.filter((s) => s.to.port === 5351 && s.data[0] === 0 && s.data[1] === 1);
  assert.equal(maps[0]!.data.readUInt16BE(4), INTERNAL_PORT, 'the mapped port is our own socket');
  assert.equal(maps[0]!.data.readUInt32BE(8), 120, 'asks for the short test lifetime');
  const last = maps.at(-1)!;
  assert.equal(last.data.readUInt32BE(8), 0, 'the last map request is the deletion (lifetime 0)');
  assert.equal(last.data.readUInt16BE(4), INTERNAL_PORT);
  assert.ok(sockets.every((s) => s.closed), 'every socket closed');
});

test('a router whose external address is shared space: behind-nat with that address, the mapping it made deleted', async () => {
  const { obs, control } = await runProbe(natPmpRouter([100, 64, 0, 1]));
  assert.equal(obs.verdict?.type, 'failed');
  assert.ok(obs.verdict?.type === 'failed' && obs.verdict.kind === 'behind-nat');
  assert.equal(obs.verdict.externalAddress, '100.64.0.1');
  assert.equal(obs.release, 'deleted');
  const maps = control.sent.filter((s) => s.to.port === 5351 && s.data[0] === 0 && s.data[1] === 1);
  assert.equal(maps.at(-1)!.data.readUInt32BE(8), 0, 'deleted');
});

test('nothing answers: no-service after the probe bound (about 1 s), nothing mapped, nothing to delete', async () => {
  const { obs, sockets } = await runProbe(() => {});
  assert.deepEqual([...obs.answered], []);
  assert.ok(obs.verdict?.type === 'failed' && obs.verdict.kind === 'no-service');
  assert.equal(obs.release, null);
  assert.ok(obs.durationMs >= 250 && obs.durationMs <= 1100, `took ${obs.durationMs} ms`);
  assert.ok(sockets.every((s) => s.closed));
});

const answersOnlyTheProbe: RouterScript = (data, to, reply) => {
  if (to.port === 5351 && data[0] === 0 && data[1] === 0) reply(natPmpAddressAnswer([11, 0, 0, 1]));
};

test('a router that answers the probe but never the map: refused after the retransmissions, inside the verdict bound', async () => {
  const { obs } = await runProbe(answersOnlyTheProbe);
  assert.deepEqual([...obs.answered], ['natpmp']);
  // NAT-PMP gives up after 4 s of retransmissions, well inside the 6 s verdict bound: a refusal, not a timeout.
  assert.ok(obs.verdict?.type === 'failed' && obs.verdict.kind === 'refused', JSON.stringify(obs.verdict));
  assert.match(obs.verdict.reason, /no answer to the map request/);
  assert.ok(obs.durationMs <= 6000);
});

test('a shorter verdict bound: no verdict (timeout), the running request still ends before the probe returns', async () => {
  const { obs, sockets } = await runProbe(answersOnlyTheProbe, 2000);
  assert.deepEqual([...obs.answered], ['natpmp']);
  assert.equal(obs.verdict, null);
  assert.equal(obs.release, null, 'nothing was mapped');
  assert.ok(obs.durationMs >= 2000 && obs.durationMs <= 5500, `took ${obs.durationMs} ms`);
  assert.ok(sockets.every((s) => s.closed));
});

test('no gateway reachable: an observation, not a throw', async () => {
  const obs = await probePortMapping({ gateway: GW, localAddressTowards: async () => null });
  assert.equal(obs.gateway, null);
  assert.equal(obs.noGatewayReason, `no route to the gateway ${GW}`);
});

test('the report lists UPnP when its SSDP answer comes 200 ms after NAT-PMP answered (the mapper waits the whole search for reports)', async () => {
  const nat = natPmpRouter([11, 0, 0, 1]);
  const { obs } = await runProbe((data, to, reply) => {
    if (to.port === 1900 && to.address === GW) {
      reply(Buffer.from('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.77.1:5000/desc.xml\r\n\r\n'), 40000, 200);
    }
    nat(data, to, reply);
  });
  assert.deepEqual([...obs.answered].sort(), ['natpmp', 'upnp']);
});

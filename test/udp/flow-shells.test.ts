/**
 * The visitor and provider UDP shells joined by a stand-in session pair
 * (the datagram channel only), with real sockets on loopback: clients,
 * an echo target, and the shells' flows, cap, idle timer, and drops.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { realScheduler } from '../../src/clock/scheduler.js';
import { Logger } from '../../src/log/logger.js';
import { nodeUdpSocketFactory } from '../../src/net/udp-factory.js';
import { UdpCounters } from '../../src/udp/index.js';
import type { DatagramSendResult } from '../../peer/udp/datagram-session.js';
import { ProviderUdp } from '../../peer/udp/provider-udp.js';
import { udpSettings } from '../../peer/udp/udp-settings.js';
import { VisitorUdp } from '../../peer/udp/visitor-udp.js';

/** One end of a stand-in session: what one end sends, the other's 'datagram' listeners get (asynchronously, like a socket). */
class FakeSession extends EventEmitter {
  peer: FakeSession | null = null;
  datagramLimit = 1200;
  closed = false;
  sendDatagram(payload: Uint8Array): DatagramSendResult {
    if (this.closed) return 'closed';
    if (payload.length > this.datagramLimit) return 'too-big';
    const copy = Buffer.from(payload);
    setImmediate(() => this.peer?.emit('datagram', copy));
    return 'sent';
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

function lines(): { sink: { write(l: string): void }; seen: Record<string, unknown>[] } {
  const seen: Record<string, unknown>[] = [];
  return { seen, sink: { write: (l: string) => void seen.push(JSON.parse(l) as Record<string, unknown>) } };
}

async function udpSocket(onMessage?: (s: Socket, msg: Buffer, from: AddressInfo) => void): Promise<Socket> {
  const s = createSocket('udp4');
  if (onMessage) s.on('message', (m, r) => onMessage(s, m, r));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

function receiveOne(s: Socket, ms = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(null);
    }, ms);
    const on = (m: Buffer) => {
      clearTimeout(t);
      s.off('message', on);
      resolve(m);
    };
    s.on('message', on);
  });
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

async function rig(settings = udpSettings(undefined, undefined)) {
  const log = lines();
  const logger = new Logger({ format: 'json', level: 'debug', sink: log.sink });
  const echo = await udpSocket((s, m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  open.push({ close: () => echo.close() });
  const vs = new FakeSession();
  const ps = new FakeSession();
  vs.peer = ps;
  ps.peer = vs;
  open.push({ close: () => (vs.close(), ps.close()) });
  const visitorCounters = new UdpCounters();
  const providerCounters = new UdpCounters();
  const visitor = new VisitorUdp({ listen: { host: '127.0.0.1', port: 0 }, settings, scheduler: realScheduler, logger, counters: visitorCounters });
  const local = await visitor.start();
  open.push({ close: () => visitor.stop() });
  visitor.attach(vs, logger.child({ side: 'visitor' }));
  const provider = new ProviderUdp({
    session: ps,
    target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port },
    settings,
    scheduler: realScheduler,
    udp: nodeUdpSocketFactory,
    logger: logger.child({ side: 'provider' }),
    counters: providerCounters,
  });
  const client = async () => {
    const c = await udpSocket();
    open.push({ close: () => c.close() });
    return c;
  };
  return { log, vs, ps, visitor, provider, local, visitorCounters, providerCounters, client };
}

describe('UDP flow shells (visitor, provider) over a session\'s datagram channel', { timeout: 20_000 }, () => {
  it('gives several clients at once their own replies, each on its own provider flow', async () => {
    const r = await rig();
    const clients = await Promise.all([r.client(), r.client(), r.client()]);
    const replies = clients.map((c) => receiveOne(c));
    clients.forEach((c, i) => c.send(`client-${i}`, r.local.port, '127.0.0.1'));
    const got = await Promise.all(replies);
    assert.deepEqual(got.map((b) => b?.toString()), ['echo:client-0', 'echo:client-1', 'echo:client-2']);
    assert.equal(r.provider.view.flows, 3);
    assert.equal(r.visitor.view(r.vs)?.flows, 3);
    assert.equal(r.visitorCounters.counts.datagramsSent, 3);
    assert.equal(r.visitorCounters.counts.datagramsReceived, 3);
    assert.equal(r.providerCounters.counts.bytesReceived, 'client-0'.length * 3);
  });

  it('drops a datagram too big for the path, counts it and says the size, the limit and the MTU advice', async () => {
    const r = await rig();
    r.vs.datagramLimit = 504; // 500 for the client after the 4-byte flow id
    const c = await r.client();
    const reply = receiveOne(c, 300);
    c.send(Buffer.alloc(501), r.local.port, '127.0.0.1');
    assert.equal(await reply, null);
    assert.equal(r.visitorCounters.drops.too_big, 1);
    assert.equal(r.visitor.view(r.vs)?.datagramLimit, 500);
    const line = r.log.seen.find((l) => l.event === 'udp-datagram-too-big');
    assert.ok(line, 'a udp-datagram-too-big line');
    assert.equal(line.size, 501);
    assert.equal(line.limit, 500);
    assert.match(String(line.note), /MTU/);
    const fits = receiveOne(c);
    c.send(Buffer.alloc(500), r.local.port, '127.0.0.1');
    assert.equal((await fits)?.length, 505);
  });

  it('holds the flow cap: a client past it gets nothing, counted and logged', async () => {
    const r = await rig(udpSettings(undefined, 2));
    const [a, b, c] = await Promise.all([r.client(), r.client(), r.client()]);
    for (const x of [a, b]) {
      const got = receiveOne(x);
      x.send('hi', r.local.port, '127.0.0.1');
      assert.ok(await got);
    }
    const none = receiveOne(c, 300);
    c.send('hi', r.local.port, '127.0.0.1');
    assert.equal(await none, null);
    assert.equal(r.visitorCounters.drops.flow_cap, 1);
    assert.equal(r.visitor.view(r.vs)?.flows, 2);
    assert.ok(r.log.seen.some((l) => l.event === 'udp-flow-refused'));
  });

  it('idles flows out on both sides, logging their counts; a reply for a forgotten flow is dropped and counted', async () => {
    const r = await rig(udpSettings(0.2, undefined));
    const c = await r.client();
    const got = receiveOne(c);
    c.send('ping', r.local.port, '127.0.0.1');
    assert.ok(await got);
    await new Promise((res) => setTimeout(res, 450));
    assert.equal(r.visitor.view(r.vs)?.flows, 0);
    assert.equal(r.provider.view.flows, 0);
    assert.equal(r.providerCounters.flows, 0);
    const closed = r.log.seen.filter((l) => l.event === 'udp-flow-closed');
    assert.equal(closed.length, 2, 'one line per side');
    for (const l of closed) {
      assert.equal(l.why, 'idle');
      assert.equal(l.datagramsSent, 1);
      assert.equal(l.datagramsReceived, 1);
    }
    // The provider still sends under the old id (as a late reply would): the visitor has no such flow.
    r.ps.sendDatagram(Buffer.from([0, 0, 0, 1, 9]));
    r.ps.sendDatagram(Buffer.from([0, 0]));
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.visitorCounters.drops.unknown_flow, 1);
    assert.equal(r.visitorCounters.drops.malformed, 1);
  });

  it('closes every flow and socket with the session, and drops what clients send without one', async () => {
    const r = await rig();
    const c = await r.client();
    const got = receiveOne(c);
    c.send('x', r.local.port, '127.0.0.1');
    assert.ok(await got);
    r.vs.close();
    r.ps.close();
    assert.equal(r.visitorCounters.flows, 0);
    assert.equal(r.providerCounters.flows, 0);
    c.send('y', r.local.port, '127.0.0.1');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r.visitorCounters.drops.no_path, 1);
  });
});

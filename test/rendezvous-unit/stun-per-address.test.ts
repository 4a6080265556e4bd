/**
 * A wildcard STUN layout answers from the address it was asked on: the
 * host's addresses get sockets of their own on the same ports
 * (stun-addresses.ts picks them, stun-bind.ts binds them, udp-service.ts
 * answers from them). Injected binders and fake sockets, then real
 * loopback sockets (127.0.0.2 stands in for a host's second address).
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { startRendezvous } from '../../rendezvous/rendezvous.js';
import { MAX_STUN_ADDRESSES, stunAddresses } from '../../rendezvous/stun-addresses.js';
import { bindStunFamilies, bindStunSockets, closeBound, type UdpBinder } from '../../rendezvous/stun-bind.js';
import type { StunLayout } from '../../rendezvous/stun-responder.js';
import { UdpService } from '../../rendezvous/udp-service.js';
import { BurrowError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import type { InterfaceAddress } from '../../src/nat/ipv6-addresses.js';
import { bindUdpSocket, type BindUdpSocketOptions } from '../../src/net/bind.js';
import { decodeMessage, encodeBindingRequest, newStunId, readBindingResponse } from '../../src/stun/index.js';
import { FakeSocket } from '../stun/fake-socket.js';

const row = (address: string, family: 'IPv4' | 'IPv6', internal = false, iface = 'eth0'): InterfaceAddress => ({ interface: iface, address, family, internal });

describe('stunAddresses (which addresses get their own sockets)', () => {
  const rows: InterfaceAddress[] = [
    row('127.0.0.1', 'IPv4', true, 'lo'),
    row('::1', 'IPv6', true, 'lo'),
    row('fd00::2', 'IPv6'),
    row('fe80::1%eth0', 'IPv6'),
    row('2001:db8::abcd', 'IPv6'),
    row('2001:DB8::1', 'IPv6', false, 'eth1'),
    row('2001:db8::1', 'IPv6', false, 'eth2'),
    row('::ffff:192.0.2.9', 'IPv6'),
    row('192.0.2.2', 'IPv4'),
    row('169.254.3.4', 'IPv4'),
    row('10.0.0.5', 'IPv4', false, 'docker0'),
  ];

  it('IPv6: global before unique-local, never loopback, link-local or IPv4-mapped; each address once', () => {
    assert.deepEqual(stunAddresses(rows, 6), { addresses: ['2001:db8::abcd', '2001:db8::1', 'fd00::2'], leftOut: [] });
  });

  it('IPv4: every non-loopback, non-link-local address', () => {
    assert.deepEqual(stunAddresses(rows, 4), { addresses: ['192.0.2.2', '10.0.0.5'], leftOut: [] });
  });

  it('at most `max` addresses; the rest are named as left out', () => {
    const many = Array.from({ length: MAX_STUN_ADDRESSES + 3 }, (_, i) => row(`2001:db8::${i + 1}`, 'IPv6'));
    const r = stunAddresses([row('fd00::9', 'IPv6'), ...many], 6);
    assert.equal(r.addresses.length, MAX_STUN_ADDRESSES);
    assert.equal(r.addresses[0], '2001:db8::1');
    assert.deepEqual(r.leftOut, ['2001:db8::17', '2001:db8::18', '2001:db8::19', 'fd00::9']);
  });
});

/** A binder that records each bind and hands out fake sockets; `fail` decides which binds fail, and how. */
function recordingBinder(fail: (o: BindUdpSocketOptions) => string | null = () => null) {
  const calls: BindUdpSocketOptions[] = [];
  const open: FakeSocket[] = [];
  let next = 42_000;
  const bind: UdpBinder = (o) => {
    calls.push(o);
    const code = fail(o);
    if (code !== null) return Promise.reject(new BurrowError('ERR_SOCKET_BIND', `cannot bind UDP socket to ${o.address}:${o.port} [${code}]`, { cause: Object.assign(new Error(code), { code }) }));
    const s = new FakeSocket({ address: o.address ?? '0.0.0.0', port: o.port === 0 || o.port === undefined ? next++ : o.port });
    open.push(s);
    return Promise.resolve(s);
  };
  const line = (o: BindUdpSocketOptions): string => `${o.address?.includes(':') ? `[${o.address}]` : o.address}:${o.port}${o.reuseAddr ? ' shared' : ''}`;
  return { bind, calls, open, lines: () => calls.map(line), live: () => open.filter((s) => !s.closed).length };
}

describe('bindStunFamilies on a wildcard, with the host addresses injected', () => {
  const host = [row('2001:db8::1', 'IPv6'), row('2001:db8::2', 'IPv6'), row('192.0.2.2', 'IPv4'), row('::1', 'IPv6', true)];

  it('binds the wildcard ports exclusively first, then shared, then each address on the same ports', async () => {
    const b = recordingBinder();
    const r = await bindStunFamilies({ host: '::', port: 7000, interfaces: () => host }, b.bind);
    assert.equal(r.ipv6Unavailable, null);
    assert.deepEqual(b.lines(), [
      '[::]:7000',
      '[::]:7000 shared',
      '[::]:7001',
      '[::]:7001 shared',
      '[2001:db8::1]:7000 shared',
      '[2001:db8::1]:7001 shared',
      '[2001:db8::2]:7000 shared',
      '[2001:db8::2]:7001 shared',
      '0.0.0.0:7000',
      '0.0.0.0:7000 shared',
      '0.0.0.0:7001',
      '0.0.0.0:7001 shared',
      '192.0.2.2:7000 shared',
      '192.0.2.2:7001 shared',
    ]);
    assert.deepEqual(r.families.map((f) => (f.perAddress ?? []).map((a) => a.address)), [['2001:db8::1', '2001:db8::2'], ['192.0.2.2']]);
    assert.deepEqual(r.families.map((f) => f.notBound), [[], []]);
    // The probes were closed; what is left is 2 wildcard + 2 per address, per family.
    assert.equal(b.live(), 2 + 2 * 2 + 2 + 2);
    assert.ok(b.calls.filter((c) => c.address?.includes(':')).every((c) => c.ipv6Only === true), 'every IPv6 socket refuses IPv4');
  });

  it('without addresses of its own the family binds exactly as before: no SO_REUSEADDR, no probe', async () => {
    const b = recordingBinder();
    const r = await bindStunFamilies({ host: '::', port: 7000, interfaces: () => [row('192.0.2.2', 'IPv4')] }, b.bind);
    assert.deepEqual(b.lines().slice(0, 2), ['[::]:7000', '[::]:7001']);
    assert.equal(r.families[0]?.perAddress, undefined);
    assert.deepEqual(r.families[1]?.perAddress?.map((a) => a.address), ['192.0.2.2']);
  });

  it('a concrete --listen address never reads the interface list', async () => {
    const b = recordingBinder();
    const r = await bindStunSockets({ host: '192.0.2.2', port: 7000, interfaces: () => assert.fail('read the interfaces') }, b.bind);
    assert.deepEqual(b.lines(), ['192.0.2.2:7000', '192.0.2.2:7001']);
    assert.equal(r.perAddress, undefined);
  });

  it('an address whose bind fails is reported and skipped; it is not taken for "no IPv6"', async () => {
    // EADDRNOTAVAIL is what a tentative (DAD) or just-removed address gives; on the wildcard it would mean no IPv6.
    const b = recordingBinder((o) => (o.address === '2001:db8::1' && o.port === 7001 ? 'EADDRNOTAVAIL' : null));
    const r = await bindStunFamilies({ host: '::', port: 7000, interfaces: () => host }, b.bind);
    assert.equal(r.ipv6Unavailable, null);
    const v6 = r.families[0];
    assert.deepEqual(v6?.perAddress?.map((a) => a.address), ['2001:db8::2']);
    assert.equal(v6?.notBound?.length, 1);
    assert.equal(v6?.notBound?.[0]?.address, '2001:db8::1');
    assert.match(v6?.notBound?.[0]?.reason ?? '', /EADDRNOTAVAIL/);
    const half = b.open.find((s) => s.localEndpoint().address === '2001:db8::1');
    assert.ok(half?.closed, "the failed address's first socket was closed");
  });

  it('the socket count is bounded: past MAX_STUN_ADDRESSES an address is left out and named', async () => {
    const many = Array.from({ length: MAX_STUN_ADDRESSES + 5 }, (_, i) => row(`2001:db8::${(i + 1).toString(16)}`, 'IPv6'));
    const b = recordingBinder();
    const r = await bindStunFamilies({ host: '::', port: 7000, interfaces: () => many }, b.bind);
    assert.equal(r.families[0]?.perAddress?.length, MAX_STUN_ADDRESSES);
    assert.equal(r.families[0]?.notBound?.length, 5);
    assert.match(r.families[0]?.notBound?.[0]?.reason ?? '', new RegExp(`more than ${MAX_STUN_ADDRESSES} addresses`));
    assert.equal(b.live(), 2 + 2 * MAX_STUN_ADDRESSES + 2);
  });

  it('an interface list that cannot be read leaves the wildcard alone answering, and says so', async () => {
    const b = recordingBinder();
    const r = await bindStunFamilies({ host: '::', port: 7000, interfaces: () => { throw new Error('uv_interface_addresses failed'); } }, b.bind);
    assert.deepEqual(b.lines(), ['[::]:7000', '[::]:7001', '0.0.0.0:7000', '0.0.0.0:7001']);
    assert.match(r.families[0]?.notBound?.[0]?.reason ?? '', /could not be listed \(uv_interface_addresses failed\)/);
  });

  it('a port someone else holds fails the exclusive probe: the bind error, nothing left open', async () => {
    const b = recordingBinder((o) => (o.address === '0.0.0.0' && o.port === 7001 && o.reuseAddr !== true ? 'EADDRINUSE' : null));
    await assert.rejects(bindStunFamilies({ host: '::', port: 7000, interfaces: () => host }, b.bind), /EADDRINUSE/);
    assert.equal(b.live(), 0);
  });
});

describe('UdpService with per-address sockets (fake sockets)', () => {
  const LAYOUT: StunLayout = { primary: { address: '::', port: 7000 }, altPort: 7001, altAddress: null };
  const CLIENT = { address: '2001:db8:1::10', port: 40000 };
  const id = () => newStunId((n) => randomBytes(n));
  const set = (address: string) => ({ primary: new FakeSocket({ address, port: 7000 }), altPort: new FakeSocket({ address, port: 7001 }) });

  it("answers from the receiving address's socket of the reply slot; one responder counts them all", () => {
    const wild = set('::');
    const a = set('2001:db8::1');
    const b = set('2001:db8::2');
    const svc = new UdpService(LAYOUT, wild, {}, [
      { address: '2001:db8::1', sockets: a },
      { address: '2001:db8::2', sockets: b },
    ]);
    b.primary.inject(encodeBindingRequest({ id: id() }), CLIENT);
    b.primary.inject(encodeBindingRequest({ id: id(), changePort: true }), CLIENT);
    a.altPort.inject(encodeBindingRequest({ id: id() }), CLIENT);
    wild.primary.inject(encodeBindingRequest({ id: id() }), CLIENT);
    const sent = [wild, a, b].map((s) => [s.primary.sent.length, s.altPort.sent.length]);
    assert.deepEqual(sent, [
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    assert.equal(svc.stats.answered, 4);
    assert.deepEqual(svc.addresses(), ['2001:db8::1', '2001:db8::2']);
    assert.equal(svc.describe(), '[::]:7000,[::]:7001');
    svc.close();
    assert.ok([wild, a, b].every((s) => s.primary.closed && s.altPort.closed));
  });

  it('refuses an incomplete set, and per-address sets on a layout with a second address', () => {
    assert.throws(() => new UdpService(LAYOUT, set('::'), {}, [{ address: '2001:db8::1', sockets: { primary: new FakeSocket({ address: '2001:db8::1', port: 7000 }) } }]), /altPort socket .* for 2001:db8::1/);
    const rfc5780: StunLayout = { primary: { address: '198.51.100.2', port: 3478 }, altPort: null, altAddress: '198.51.100.3' };
    const s = { primary: new FakeSocket(rfc5780.primary), altAddress: new FakeSocket({ address: '198.51.100.3', port: 3478 }) };
    assert.throws(() => new UdpService(rfc5780, s, {}, [{ address: '198.51.100.2', sockets: { primary: new FakeSocket(rfc5780.primary) } }]), /without a second address/);
  });
});

describe('real sockets on loopback: 127.0.0.2 as the second address of a 0.0.0.0 rendezvous', { timeout: 30_000 }, () => {
  const closing: (() => unknown)[] = [];
  after(async () => {
    for (const c of closing) await c();
  });
  const second = [row('127.0.0.2', 'IPv4')];

  /** One Binding request from 127.0.0.1 to `to`:`port`: where the answer came from (address:port), or null after 1 s. */
  async function answeredFrom(to: string, port: number, changePort = false): Promise<string | null> {
    const s: Socket = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    try {
      const reply = once(s, 'message') as Promise<[Buffer, { address: string; port: number }]>;
      s.send(encodeBindingRequest({ id: newStunId((n) => randomBytes(n)), changePort }), port, to);
      const got = await Promise.race([reply, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
      if (got === null) return null;
      const m = decodeMessage(got[0]);
      assert.ok(m.ok);
      assert.equal(readBindingResponse(m.message).mapped?.address, '127.0.0.1');
      return `${got[1].address}:${got[1].port}`;
    } finally {
      s.close();
    }
  }

  it('answers a request to 127.0.0.2 from 127.0.0.2 (the kernel would pick 127.0.0.1), change-port from 127.0.0.2 too', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'info', format: 'json', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const rv = await startRendezvous({ host: '0.0.0.0', port: 0, token: 'tok', logger, stun: { interfaces: () => second } });
    closing.push(() => rv.close());
    const port = rv.tcp!.port;
    assert.equal(await answeredFrom('127.0.0.2', port), `127.0.0.2:${port}`);
    assert.equal(await answeredFrom('127.0.0.2', port, true), `127.0.0.2:${port + 1}`);
    assert.equal(await answeredFrom('127.0.0.1', port), `127.0.0.1:${port}`, 'the wildcard still answers every other address');
    assert.equal(rv.udp!.stats.answered, 3);
    const listening = lines.find((l) => l.event === 'listening');
    assert.equal(listening?.udp, `0.0.0.0:${port},0.0.0.0:${port + 1}`);
    assert.equal(listening?.udpAddresses, '127.0.0.2');
  });

  it('holds its ports alone: a plain bind of the port fails while it runs', async () => {
    const r = await bindStunSockets({ host: '0.0.0.0', port: 0, interfaces: () => second });
    closing.push(() => closeBound(r));
    const port = r.layout.primary.port;
    await assert.rejects(bindUdpSocket({ address: '0.0.0.0', port }), /EADDRINUSE/);
    await assert.rejects(bindUdpSocket({ address: '127.0.0.3', port }), /EADDRINUSE/);
  });

  it('a port another socket holds (on any address) is refused, not shared', async () => {
    const other = await bindUdpSocket({ address: '127.0.0.2', port: 0 });
    closing.push(() => other.close());
    const port = other.localEndpoint().port;
    await assert.rejects(bindStunSockets({ host: '0.0.0.0', port, interfaces: () => second }), /EADDRINUSE/);
  });

  it('warns about the addresses it could not give sockets of their own', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'warn', format: 'json', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    // 192.0.2.123 is no address of this host: its bind fails (EADDRNOTAVAIL), 127.0.0.2's works.
    const rv = await startRendezvous({ host: '0.0.0.0', port: 0, token: 'tok', logger, stun: { interfaces: () => [row('192.0.2.123', 'IPv4'), ...second] } });
    closing.push(() => rv.close());
    assert.deepEqual(rv.udp!.addresses(), ['127.0.0.2']);
    const w = lines.find((l) => l.event === 'stun-addresses-not-bound');
    assert.ok(w, JSON.stringify(lines));
    assert.match(String(w.addresses), /^192\.0\.2\.123 \(.*EADDRNOTAVAIL/);
  });
});

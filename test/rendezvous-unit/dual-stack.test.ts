/**
 * The rendezvous on both address families (issue 10): `::` binds TCP
 * dual-stack and STUN once per family, so each client is answered with its
 * own family's address, never an IPv4-mapped `::ffff:` form (loopback only).
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { startRendezvous, type Rendezvous } from '../../rendezvous/rendezvous.js';
import { bindStunFamilies, closeBound, type UdpBinder } from '../../rendezvous/stun-bind.js';
import { BurrowError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { bindUdpSocket } from '../../src/net/bind.js';
import { decodeMessage, encodeBindingRequest, newStunId, readBindingResponse } from '../../src/stun/index.js';
import { randomBytes } from 'node:crypto';
import { LoopbackPeer } from './loopback-peer.js';

const lines: Record<string, unknown>[] = [];
const recording = () => new Logger({ level: 'info', format: 'json', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
const opened: { close(): unknown }[] = [];

after(async () => {
  for (const o of opened) await o.close();
});

/** One STUN Binding request from a fresh socket of `type`; the answer's mapped address and where it came from, or null after `waitMs`. */
async function ask(type: 'udp4' | 'udp6', to: string, port: number, waitMs = 1000): Promise<{ mapped: string; mappedPort: number; local: number; from: string } | null> {
  const s: Socket = createSocket(type);
  s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
  await once(s, 'listening');
  try {
    const reply = once(s, 'message') as Promise<[Buffer, { address: string }]>;
    s.send(encodeBindingRequest({ id: newStunId((n) => randomBytes(n)) }), port, to);
    const got = await Promise.race([reply, new Promise<null>((r) => setTimeout(() => r(null), waitMs))]);
    if (got === null) return null;
    const decoded = decodeMessage(got[0]);
    assert.ok(decoded.ok);
    const mapped = readBindingResponse(decoded.message).mapped;
    assert.ok(mapped !== null);
    return { mapped: mapped.address, mappedPort: mapped.port, local: s.address().port, from: got[1].address };
  } finally {
    s.close();
  }
}

describe('rendezvous on [::] (dual stack)', { timeout: 30_000 }, () => {
  let rv: Rendezvous;

  it('binds TCP once (dual-stack) and STUN once per family, and lists them all on the listening line', async () => {
    rv = await startRendezvous({ host: '::', port: 0, token: 'tok', logger: recording(), stun: {} });
    opened.push(rv);
    const port = rv.tcp!.port;
    assert.deepEqual(
      rv.udpAll.map((u) => u.describe()),
      [`[::]:${port},[::]:${port + 1}`, `0.0.0.0:${port},0.0.0.0:${port + 1}`],
    );
    const listening = lines.find((l) => l.event === 'listening');
    assert.equal(listening?.tcp, `[::]:${port}`);
    assert.equal(listening?.udp, `[::]:${port},[::]:${port + 1},0.0.0.0:${port},0.0.0.0:${port + 1}`);
  });

  it('answers an IPv4 client with its IPv4 address from an IPv4 socket, an IPv6 client with its IPv6 address', async () => {
    const port = rv.tcp!.port;
    for (const p of [port, port + 1]) {
      const v4 = await ask('udp4', '127.0.0.1', p);
      assert.ok(v4 !== null, `an answer on 127.0.0.1:${p}`);
      assert.deepEqual([v4.mapped, v4.mappedPort, v4.from], ['127.0.0.1', v4.local, '127.0.0.1']);
      const v6 = await ask('udp6', '::1', p);
      assert.ok(v6 !== null, `an answer on [::1]:${p}`);
      assert.deepEqual([v6.mapped, v6.mappedPort, v6.from], ['::1', v6.local, '::1']);
    }
    assert.equal(rv.udpAll[0]!.stats.answered, 2, 'the IPv6 sockets answered only the IPv6 client');
    assert.equal(rv.udpAll[1]!.stats.answered, 2, 'the IPv4 sockets answered only the IPv4 client');
  });

  it('accepts control connections over 127.0.0.1 and ::1, and logs IPv4 peers without ::ffff:', async () => {
    const a = await LoopbackPeer.login(rv.tcp!.port, 'tok', 'provider', '127.0.0.1');
    const b = await LoopbackPeer.login(rv.tcp!.port, 'tok', 'visitor', '::1');
    assert.equal(rv.stats.peers, 2);
    const logins = lines.filter((l) => l.event === 'peer-login').map((l) => String(l.remote));
    assert.equal(logins.length, 2);
    assert.match(logins[0]!, /^127\.0\.0\.1:\d+$/);
    assert.match(logins[1]!, /^\[::1\]:\d+$/);
    a.close();
    b.close();
    await rv.close();
  });
});

describe('rendezvous on one family', { timeout: 30_000 }, () => {
  it('--listen 127.0.0.1: STUN does not answer on ::1', async () => {
    const rv = await startRendezvous({ host: '127.0.0.1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), stun: {} });
    opened.push(rv);
    const port = rv.tcp!.port;
    assert.equal(rv.udpAll.length, 1);
    assert.ok((await ask('udp4', '127.0.0.1', port)) !== null);
    assert.equal(await ask('udp6', '::1', port, 300), null);
    await rv.close();
  });

  it('--listen [::1]: IPv6 only, answered with the IPv6 address', async () => {
    const rv = await startRendezvous({ host: '::1', port: 0, token: 'tok', logger: new Logger({ level: 'error' }), stun: {} });
    opened.push(rv);
    const port = rv.tcp!.port;
    assert.equal(rv.udpAll.length, 1);
    const v6 = await ask('udp6', '::1', port);
    assert.equal(v6?.mapped, '::1');
    assert.equal(await ask('udp4', '127.0.0.1', port, 300), null);
    await rv.close();
  });
});

describe('bindStunFamilies without IPv6', () => {
  /** A host whose IPv6 stack is missing: every udp6 bind fails as the kernel would say. */
  const noV6 = (code: string): UdpBinder => (opts) =>
    opts.address?.includes(':')
      ? Promise.reject(new BurrowError('ERR_SOCKET_BIND', `cannot bind UDP socket to [${opts.address}]:${opts.port ?? 0} [${code}]`, { cause: Object.assign(new Error(code), { code }) }))
      : bindUdpSocket(opts);

  it('falls back to IPv4 and says why', async () => {
    const r = await bindStunFamilies({ host: '::', port: 0 }, noV6('EAFNOSUPPORT'));
    try {
      assert.equal(r.families.length, 1);
      assert.equal(r.families[0]!.layout.primary.address, '0.0.0.0');
      assert.match(r.ipv6Unavailable ?? '', /EAFNOSUPPORT/);
    } finally {
      for (const f of r.families) closeBound(f);
    }
  });

  it('does not hide other bind errors behind the fallback', async () => {
    await assert.rejects(bindStunFamilies({ host: '::', port: 7 }, noV6('EADDRINUSE')), /EADDRINUSE/);
  });

  it('startRendezvous warns and listens on IPv4 only (TCP too)', async () => {
    const warned: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'warn', format: 'json', sink: { write: (l: string) => void warned.push(JSON.parse(l) as Record<string, unknown>) } });
    const rv = await startRendezvous({ host: '::', port: 0, token: 'tok', logger, stun: { bind: noV6('EAFNOSUPPORT') } });
    opened.push(rv);
    assert.equal(rv.tcp!.address, '0.0.0.0');
    assert.deepEqual(rv.udpAll.map((u) => u.describe()), [`0.0.0.0:${rv.tcp!.port},0.0.0.0:${rv.tcp!.port + 1}`]);
    const w = warned.find((l) => l.event === 'ipv6-unavailable');
    assert.ok(w, 'a warning says IPv6 is unavailable');
    assert.match(String(w.note), /IPv4 only/);
    assert.match(String(w.note), /EAFNOSUPPORT/);
    await rv.close();
  });
});

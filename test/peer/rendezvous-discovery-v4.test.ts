/**
 * The direct path's STUN to the rendezvous stays IPv4 for now (issue 10):
 * a name with A and AAAA records uses its A record; a name with only AAAA
 * records, or an IPv6 rendezvous address, says so plainly instead of
 * looking like a DNS failure or blocked UDP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { realScheduler } from '../../src/clock/scheduler.js';
import type { UdpSocket } from '../../src/net/udp-socket.js';
import { NO_IPV4, RendezvousDiscovery, ipv4From, type ResolveIpv4 } from '../../peer/direct/rendezvous-discovery.js';

const random = (n: number) => new Uint8Array(n);
const noSocket = null as unknown as UdpSocket;

async function discover(host: string, resolve: ResolveIpv4) {
  const d = new RendezvousDiscovery({ host, port: 7000 }, realScheduler, random, resolve);
  return d.discover(noSocket, () => {});
}

describe('the direct path needs the rendezvous over IPv4', () => {
  it('a name with AAAA records first still gives its A record', async () => {
    const resolve = ipv4From(async () => ['2001:db8::7', '::1', '192.0.2.7', '192.0.2.8']);
    assert.equal(await resolve('rv.example.test'), '192.0.2.7');
  });

  it('a name with only AAAA records rejects with the NO_IPV4 code', async () => {
    await assert.rejects(ipv4From(async () => ['2001:db8::7'])('rv.example.test'), (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, NO_IPV4);
      assert.match(String(err), /only IPv6 addresses \(2001:db8::7\)/);
      return true;
    });
  });

  it('reports "no IPv4 (A) record" and that the relay still works, not a DNS failure', async () => {
    const r = await discover('rv.example.test', ipv4From(async () => ['2001:db8::7']));
    assert.equal(r.srflx, null);
    assert.equal(r.nat.udp, false);
    assert.match(r.reason ?? '', /"rv\.example\.test" has no IPv4 \(A\) record/);
    assert.match(r.reason ?? '', /relay works over IPv6/);
    assert.doesNotMatch(r.reason ?? '', /DNS lookup .* failed/);
  });

  it('an IPv6 rendezvous address is reported the same way, without a lookup', async () => {
    let calls = 0;
    const r = await discover('::1', async () => {
      calls++;
      return '127.0.0.1';
    });
    assert.equal(calls, 0);
    assert.match(r.reason ?? '', /rendezvous address ::1 is IPv6/);
  });

  it('a name that does not exist is still a DNS failure with its code', async () => {
    const r = await discover('nowhere.test', ipv4From(() => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }))));
    assert.match(r.reason ?? '', /DNS lookup of the rendezvous name "nowhere\.test" failed \(ENOTFOUND/);
  });
});

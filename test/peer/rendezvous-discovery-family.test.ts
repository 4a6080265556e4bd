/**
 * The direct path's STUN to the rendezvous, per address family: the IPv4
 * session socket asks the rendezvous's IPv4 address, the IPv6 one its IPv6
 * address (one lookup of the name gives both). A family the rendezvous has
 * no address of is said plainly, not reported as a DNS failure or blocked UDP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { realScheduler } from '../../src/clock/scheduler.js';
import type { HostLookup } from '../../src/net/dial-stream.js';
import type { UdpSocket } from '../../src/net/udp-socket.js';
import { RendezvousDiscovery } from '../../peer/direct/rendezvous-discovery.js';

const random = (n: number) => new Uint8Array(n);

/** Only what discovery reads before it sends: the socket's family. */
function socketOn(address: string): UdpSocket {
  return { localEndpoint: () => ({ address, port: 40000 }) } as unknown as UdpSocket;
}

async function discover(host: string, lookup: HostLookup, bound: string) {
  const d = new RendezvousDiscovery({ host, port: 7000 }, realScheduler, random, lookup);
  return d.discover(socketOn(bound), () => {});
}

describe('rendezvous discovery per address family', () => {
  it('a name with only AAAA records: the IPv4 socket is told "no IPv4 (A) record", not a DNS failure', async () => {
    const r = await discover('rv.example.test', async () => ['2001:db8::7'], '0.0.0.0');
    assert.equal(r.srflx, null);
    assert.equal(r.nat.udp, false);
    assert.match(r.reason ?? '', /"rv\.example\.test" has no IPv4 \(A\) record/);
    assert.match(r.reason ?? '', /IPv6 and the relay are not affected/);
    assert.doesNotMatch(r.reason ?? '', /DNS lookup .* failed/);
  });

  it('a name with only A records: the IPv6 socket is told "no IPv6 (AAAA) record"', async () => {
    const r = await discover('rv.example.test', async () => ['192.0.2.7'], '2001:db8:1::2');
    assert.equal(r.nat.udp, false);
    assert.match(r.reason ?? '', /"rv\.example\.test" has no IPv6 \(AAAA\) record/);
  });

  it('an IPv6 rendezvous address is not looked up, and an IPv4 socket is told it is not IPv4', async () => {
    let calls = 0;
    const r = await discover(
      '2001:db8::1',
      async () => {
        calls++;
        return ['127.0.0.1'];
      },
      '0.0.0.0',
    );
    assert.equal(calls, 0);
    assert.match(r.reason ?? '', /rendezvous address 2001:db8::1 is not IPv4/);
  });

  it('a name that does not exist is a DNS failure with its code, for either family', async () => {
    const fail: HostLookup = () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    for (const bound of ['0.0.0.0', '::']) {
      const r = await discover('nowhere.test', fail, bound);
      assert.match(r.reason ?? '', /DNS lookup of the rendezvous name "nowhere\.test" failed \(ENOTFOUND/);
    }
  });

  it('the IPv4 and IPv6 sockets share one lookup of the name', async () => {
    let calls = 0;
    const d = new RendezvousDiscovery({ host: 'rv.example.test', port: 7000 }, realScheduler, random, async () => {
      calls++;
      return ['192.0.2.7'];
    });
    // The IPv6 socket finds no AAAA record (no STUN sent); the IPv4 one would send, so only the v6 answer is awaited.
    const r6 = await d.discover(socketOn('::'), () => {});
    assert.match(r6.reason ?? '', /no IPv6 \(AAAA\) record/);
    const again = await d.discover(socketOn('2001:db8::5'), () => {});
    assert.match(again.reason ?? '', /no IPv6/);
    assert.equal(calls, 1);
  });
});

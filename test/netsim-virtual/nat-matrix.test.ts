import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology, waitFor, type MappingBehaviour } from '../../netsim/virtual/index.js';

const BEHAVIOURS: MappingBehaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];

/** For each mapping x filtering: which inbound packets pass, and which remotes share a public port. */
describe('mapping x filtering matrix', () => {
  for (const mapping of BEHAVIOURS) {
    for (const filtering of BEHAVIOURS) {
      it(`${mapping} mapping, ${filtering} filtering`, async () => {
        const t = buildTopology({ seed: 5, sites: [{ name: 'a', nat: { mapping, filtering } }] });
        const [ip1, ip2] = t.serverAddresses;
        const srv = {
          contacted: t.server.bind({ address: ip1, port: 5000 }),
          samePortOther: t.server.bind({ address: ip1, port: 5001 }),
          otherAddress: t.server.bind({ address: ip2, port: 5000 }),
          otherBoth: t.server.bind({ address: ip2, port: 5001 }),
        };
        const seen = new Map<string, number>();
        for (const [name, s] of Object.entries(srv)) s.onMessage((_d, from) => seen.set(name, from.port));
        const host = t.site('a').host.bind({ port: 40000 });
        const heard = new Set<string>();
        host.onMessage((d) => heard.add(d.toString()));

        host.send(Buffer.from('hi'), srv.contacted.localEndpoint());
        await waitFor(t.scheduler, () => seen.has('contacted'), 1000);
        const mapped = { address: t.site('a').publicAddress, port: seen.get('contacted')! };
        // Inbound from the contacted endpoint, the same address on another port, another address.
        srv.contacted.send(Buffer.from('contacted'), mapped);
        srv.samePortOther.send(Buffer.from('samePortOther'), mapped);
        srv.otherAddress.send(Buffer.from('otherAddress'), mapped);
        await t.scheduler.advance(200);
        const expectPass = {
          'endpoint-independent': ['contacted', 'otherAddress', 'samePortOther'],
          'address-dependent': ['contacted', 'samePortOther'],
          'address-and-port-dependent': ['contacted'],
        }[filtering];
        assert.deepEqual([...heard].sort(), expectPass);

        // Mapping, from a fresh socket (the admitted packets above opened flows a reply would reuse):
        // the public port toward each server endpoint.
        seen.clear();
        const fresh = t.site('a').host.bind({ port: 40001 });
        for (const name of ['contacted', 'samePortOther', 'otherAddress', 'otherBoth'] as const) {
          fresh.send(Buffer.from('hi'), srv[name].localEndpoint());
        }
        await t.scheduler.advance(200);
        const p = (name: string) => seen.get(name);
        const base = p('contacted');
        assert.equal(base, 40001, 'port preserved for the first mapping');
        if (mapping === 'endpoint-independent') {
          assert.deepEqual([p('samePortOther'), p('otherAddress'), p('otherBoth')], [base, base, base]);
        } else if (mapping === 'address-dependent') {
          assert.equal(p('samePortOther'), base);
          assert.notEqual(p('otherAddress'), base);
          assert.equal(p('otherBoth'), p('otherAddress'));
        } else {
          const ports = new Set([base, p('samePortOther'), p('otherAddress'), p('otherBoth')]);
          assert.equal(ports.size, 4);
        }
      });
    }
  }
});

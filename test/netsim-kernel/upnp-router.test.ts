/**
 * Kernel lane: the port-mapping router (profile upnp-router: random-port
 * masquerade + Debian's miniupnpd), each protocol alone and all three.
 *
 * 1. The router answers exactly the protocols it was built with, as seen by
 *    clients that are not burrow's (Debian's natpmpc and upnpc, and a raw PCP
 *    MAP request), and what it maps forwards: a datagram from the outside
 *    host to the public address and the mapped port reaches the LAN host.
 * 2. The real CLI peers through the kernel matrix runner, random-symmetric
 *    against upnp-router with one protocol alone, both directions: direct
 *    through the mapped port (a pair that relays without it), the protocol
 *    named in the mapped side's log, byte-exact, and no mapping left on the
 *    router after the peers exit.
 * Needs root, the kernel lane's packages and miniupnpd-nftables, miniupnpc, natpmpc; skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Lab, NETNS_ETC, kernelLabSkipReason, lastJson, listNamespaces, protocolsOf, type NatSite, type PortmapChoice, type PortmapProtocol } from '../../netsim/kernel/index.js';
import { BURROW_ENTRY, TRAFFIC_ENTRY, runKernelMatrix } from '../../netsim/kernel/matrix/index.js';
import { formatSummary } from '../../netsim/matrix/index.js';
import { udpListen, udpSend } from './helpers.js';

const skip = kernelLabSkipReason({ portmapRouter: true });

/**
 * A PCP MAP request (RFC 6887 §11: 24-byte header + 36-byte body) for UDP
 * `port` from `ip`, sent from that port to the gateway; prints
 * {"answered":bool,"result":n,"externalPort":n} (no answer within 2 s: false).
 */
const PCP_MAP = `
const dgram = require('dgram'); const crypto = require('crypto');
const [gw, ip, port] = process.argv.slice(1);
const b = Buffer.alloc(60);
b[0] = 2; b[1] = 1; b.writeUInt32BE(60, 4);
b[18] = 0xff; b[19] = 0xff; ip.split('.').forEach((o, i) => { b[20 + i] = Number(o); });
crypto.randomBytes(12).copy(b, 24); b[36] = 17; b.writeUInt16BE(Number(port), 40);
const s = dgram.createSocket('udp4');
const done = (o) => { process.stdout.write(JSON.stringify(o) + '\\n'); s.close(); };
const t = setTimeout(() => done({ answered: false }), 2000);
s.on('message', (m) => { if (m[0] !== 2 || m[1] !== 0x81) return; clearTimeout(t); done({ answered: true, result: m[3], externalPort: m.readUInt16BE(42) }); });
s.bind(Number(port), ip, () => s.send(b, 5351, gw));
`;

let lab: Lab;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
});

after(async () => {
  if (skip || !lab) return;
  assert.deepEqual(await lab.close(), []);
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${lab.runId}-`)), []);
});

interface Answers {
  natpmp: boolean;
  pcp: boolean;
  upnp: boolean;
  /** External port per protocol that mapped. */
  ports: Partial<Record<PortmapProtocol, number>>;
  raw: string;
}

/** Asks the site's router for one mapping per protocol, each with its own client and port. */
async function askEveryProtocol(site: NatSite, base: number): Promise<Answers> {
  const host = site.hosts[0]!;
  const gw = site.router.ip;
  const [pmp, pcp, upnp] = await Promise.all([
    // natpmpc retries for minutes when nothing answers: 4 s bound it.
    lab.exec(host, 'natpmpc', ['-g', gw, '-a', String(base), String(base), 'udp', '60'], { timeoutMs: 4000, allowFail: true }),
    lab.exec(host, process.execPath, ['-e', PCP_MAP, gw, host.ip, String(base + 1)], { timeoutMs: 10_000 }),
    lab.exec(host, 'upnpc', ['-a', host.ip, String(base + 2), String(base + 2), 'UDP', '60'], { timeoutMs: 15_000, allowFail: true }),
  ]);
  const ports: Answers['ports'] = {};
  const pm = /Mapped public port (\d+) protocol UDP to local port (\d+)/.exec(pmp.stdout);
  if (pm) ports.natpmp = Number(pm[1]);
  const pc = lastJson<{ answered: boolean; result?: number; externalPort?: number }>(pcp.stdout);
  if (pc.answered && pc.result === 0 && pc.externalPort !== undefined) ports.pcp = pc.externalPort;
  const forwards = await site.portmap!.daemon.forwards();
  if (forwards.some((f) => f.port === base + 2 && f.to === host.ip)) ports.upnp = forwards.find((f) => f.port === base + 2)!.externalPort;
  return {
    natpmp: ports.natpmp !== undefined,
    pcp: pc.answered,
    upnp: ports.upnp !== undefined,
    ports,
    raw: `natpmpc: ${pmp.stdout.trim().split('\n').slice(-2).join(' | ')}; pcp: ${JSON.stringify(pc)}; upnpc: ${upnp.stdout.trim().split('\n').slice(-2).join(' | ')}`,
  };
}

for (const choice of ['natpmp', 'pcp', 'upnp', 'all'] as const satisfies readonly PortmapChoice[]) {
  test(`upnp-router answering ${choice === 'all' ? 'NAT-PMP, PCP and UPnP' : `${choice} alone`}: exactly that answers (natpmpc, raw PCP, upnpc), and a mapped port forwards from outside`, { skip, timeout: 60_000 }, async () => {
    const site = await lab.addSite('upnp-router', { portmap: choice, verify: false });
    try {
      assert.equal(site.publicIp.startsWith('11.0.0.'), true, `a non-reserved WAN address, got ${site.publicIp}`);
      const base = 30_000 + site.index * 100;
      const got = await askEveryProtocol(site, base);
      const want = protocolsOf(choice);
      for (const p of ['natpmp', 'pcp', 'upnp'] as const) {
        assert.equal(got[p], want.includes(p), `${p} ${want.includes(p) ? 'must' : 'must not'} answer (${got.raw}); router log: ${site.portmap!.daemon.log.slice(-800)}`);
      }
      // Each mapping granted forwards: the outside host reaches the LAN host's port through the public address.
      const internal: Record<PortmapProtocol, number> = { natpmp: base, pcp: base + 1, upnp: base + 2 };
      for (const p of want) {
        const external = got.ports[p];
        assert.ok(external !== undefined, `${p} mapped (${got.raw})`);
        assert.ok((await site.portmap!.daemon.forwards()).some((f) => f.externalPort === external && f.port === internal[p]), `${p}: the router holds the forward`);
        const listener = await udpListen(lab, site.hosts[0]!, internal[p], 1000);
        await udpSend(lab, lab.outside, { bindPort: 0, dst: site.publicIp, dstPort: external, count: 3, intervalMs: 30, waitMs: 50 });
        const arrived = (await listener.result()).filter((d) => d.data.startsWith('probe'));
        assert.ok(arrived.length > 0, `${p}: a datagram to ${site.publicIp}:${external} reaches the LAN host's port ${internal[p]}`);
        assert.equal(arrived[0]?.from, lab.outside.ip);
      }
    } finally {
      await lab.removeSite(site);
    }
    assert.deepEqual((await listNamespaces()).filter((n) => site.namespaces.includes(n)), [], 'the site (router, daemon, ruleset) is gone');
    assert.equal(site.portmap!.daemon.running, false, 'miniupnpd went with its site');
    assert.equal(existsSync(`${NETNS_ETC}/${site.router.ns}`), false, "the daemon's config directory went with the namespace");
  });
}

test(
  'random-symmetric and upnp-router with one protocol alone, both directions: direct through the mapped port, byte-exact, the mapping gone after the peers exit',
  { skip: skip ?? (!existsSync(BURROW_ENTRY) || !existsSync(TRAFFIC_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : false), timeout: 180_000 },
  async (t) => {
    const cases = [
      { choice: 'natpmp', pair: ['upnp-router', 'symmetric-random'] },
      { choice: 'pcp', pair: ['symmetric-random', 'upnp-router'] },
      { choice: 'upnp', pair: ['upnp-router', 'symmetric-random'] },
    ] as const;
    for (const c of cases) {
      const run = await runKernelMatrix({ mode: 'xtcp', pairs: [c.pair], portmap: c.choice, sizeBytes: 256 * 1024, transferTimeoutMs: 30_000 });
      for (const line of formatSummary(run).split('\n')) t.diagnostic(`${c.choice}: ${line}`);
      const r = run.results[0]!;
      const where = `${c.choice} alone, ${r.provider} -> ${r.visitor}`;
      assert.ok(r.upVerified && r.downVerified, `${where}: bytes verified both ways (${r.error ?? ''})`);
      assert.equal(r.outcome, 'direct', `${where}: ${r.punchFailure ?? r.error ?? ''}; port mapping: ${r.portmap ?? 'nothing logged'}`);
      assert.equal(r.via, 'mapped', `${where}: through the mapped port; port mapping: ${r.portmap ?? 'nothing logged'}`);
      assert.equal(r.expectedVia, 'mapped');
      assert.ok(r.asExpected, where);
      const side = r.provider === 'upnp-router' ? 'provider' : 'visitor';
      assert.match(r.portmap ?? '', new RegExp(`${side}: mapped by ${c.choice} 11\\.0\\.0\\.\\d+:\\d+`), `${where}: the mapped side names the protocol`);
      assert.equal(r.forwardsLeft, 0, `${where}: no mapping left on the router`);
      assert.deepEqual(run.leftNamespaces, []);
    }
  },
);

/**
 * Issue 13 on the kernel lane: UDP services through the real burrow CLI,
 * provider behind one port-restricted (plain Linux) NAT, visitor behind
 * another, rendezvous on the lab's public server.
 *
 *   - echo, direct (xtcp, punched) and relayed (stcp): datagrams of random
 *     sizes up to the path's limit, byte-exact, none duplicated, loss ≤ 1 %;
 *     one byte over the direct limit is dropped and logged, not fragmented;
 *   - WireGuard (wireguard-go, MTU 1280) between the two sites, its UDP
 *     carried by burrow: a round trip and a 16 MiB byte-exact TCP transfer
 *     over the WireGuard addresses;
 *   - DNS: dnsmasq behind the provider answers an A query sent to the visitor.
 *
 * Needs root, the kernel lane's tools, wireguard-go, wg and dnsmasq (CI
 * installs them); skipped with the reason otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { at } from '../../src/util/at.js';
import { Lab, kernelLabSkipReason, listNamespaces, type LabNode, type NatSite } from '../../netsim/kernel/index.js';
import { BURROW_ENTRY, events } from '../../netsim/kernel/cli-process.js';
import { STREAM_ENTRY, spawnNode, Transfer } from '../../netsim/kernel/scenarios/procs.js';
import { CLIENT_DATAGRAM_LIMIT, startRendezvous, startUdpPair, type Rendezvous, type UdpPair } from '../../netsim/kernel/udp-pair.js';
import { UDP_TOOL_ENTRY, dnsQuery, pingPong, runBurst, startUdpEcho } from '../../netsim/kernel/udp-traffic.js';
import { startWireGuard, wgKeyPair, type WireGuardInterface } from '../../netsim/kernel/wireguard.js';
import { startDnsmasq, type Dnsmasq } from '../../netsim/kernel/dnsmasq.js';

function missingTool(): string | undefined {
  for (const [cmd, args, pkg] of [
    ['wireguard-go', ['--version'], 'wireguard-go'],
    ['wg', ['--version'], 'wireguard-tools'],
    ['dnsmasq', ['--version'], 'dnsmasq'],
    ['ping', ['-V'], 'iputils-ping'],
  ] as const) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `${cmd} is missing (apt-get install ${pkg})`;
    }
  }
  return undefined;
}

const skip =
  kernelLabSkipReason() ??
  missingTool() ??
  (!existsSync(BURROW_ENTRY) || !existsSync(UDP_TOOL_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : undefined);

const ECHO_PORT = 7777;
const LOSS_MAX = 0.01;

let lab: Lab;
let rv: Rendezvous;
let home: LabNode;
let laptop: LabNode;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  const sites: NatSite[] = await Promise.all([lab.addSite('port-restricted-cone'), lab.addSite('port-restricted-cone')]);
  home = at(at(sites, 0).hosts, 0);
  laptop = at(at(sites, 1).hosts, 0);
  rv = await startRendezvous(lab);
  await startUdpEcho(lab, home, '127.0.0.1', ECHO_PORT);
});

after(async () => {
  // Skipped, or before() failed (Lab.create then closed itself): nothing to close.
  if (skip || (lab as Lab | undefined) === undefined) return;
  const runId = lab.runId;
  assert.deepEqual(await lab.close(), [], 'every namespace removed');
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${runId}-`)), []);
});

async function withPair<T>(mode: 'xtcp' | 'stcp', to: string, listen: string, fn: (p: UdpPair) => Promise<T>): Promise<T> {
  const pair = await startUdpPair(lab, { rendezvous: rv, mode, providerHost: home, to, visitorHost: laptop, listen });
  try {
    if (mode === 'xtcp') assert.match(pair.path, /^direct/, 'the pair punched through the two NATs');
    else assert.equal(pair.path, 'relay');
    return await fn(pair);
  } finally {
    await pair.stop();
  }
}

function assertClean(r: Awaited<ReturnType<typeof runBurst>>, where: string): void {
  assert.equal(r.sent, r.count, `${where}: all sent`);
  assert.equal(r.corrupt, 0, `${where}: byte-exact`);
  assert.equal(r.duplicates, 0, `${where}: none duplicated`);
  assert.equal(r.stray, 0, `${where}: nothing foreign`);
  assert.ok(r.lost / r.count <= LOSS_MAX, `${where}: lost ${r.lost} of ${r.count}`);
}

test(
  `echo through a direct (xtcp) pair behind two Linux NATs: 3000 datagrams up to ${CLIENT_DATAGRAM_LIMIT.direct} B byte-exact, loss ≤ 1 %; one byte more is dropped and logged`,
  { skip, timeout: 120_000 },
  async (t) => {
    await withPair('xtcp', `127.0.0.1:${ECHO_PORT}`, '127.0.0.1:30000', async (pair) => {
      const r = await runBurst(lab, laptop, '127.0.0.1', 30_000, { count: 3000, maxSize: CLIENT_DATAGRAM_LIMIT.direct, window: 32, timeoutMs: 60_000 });
      t.diagnostic(`direct (${pair.path}): ${JSON.stringify(r)}`);
      assertClean(r, 'direct');
      assert.equal(r.maxSizeSent, CLIENT_DATAGRAM_LIMIT.direct, 'the limit itself went through');

      const over = await runBurst(lab, laptop, '127.0.0.1', 30_000, { count: 1, maxSize: CLIENT_DATAGRAM_LIMIT.direct + 1, window: 1, lossTimeoutMs: 1500, timeoutMs: 10_000 });
      assert.deepEqual([over.received, over.lost], [0, 1], 'an oversized datagram does not arrive (no fragmenting into a stream)');
      const logged = events(pair.visitor).find((e) => e.event === 'udp-datagram-too-big');
      assert.ok(logged, `the visitor logs the drop: ${pair.visitor.stderr().slice(-400)}`);
      assert.equal(logged.limit, CLIENT_DATAGRAM_LIMIT.direct, 'with the path limit');
    });
  },
);

test(
  `echo through a relayed (stcp) pair behind the same NATs: 1000 datagrams up to ${CLIENT_DATAGRAM_LIMIT.relay} B byte-exact, loss ≤ 1 %`,
  { skip, timeout: 120_000 },
  async (t) => {
    await withPair('stcp', `127.0.0.1:${ECHO_PORT}`, '127.0.0.1:30001', async () => {
      const r = await runBurst(lab, laptop, '127.0.0.1', 30_001, { count: 1000, maxSize: CLIENT_DATAGRAM_LIMIT.relay, window: 4, timeoutMs: 60_000 });
      t.diagnostic(`relay: ${JSON.stringify(r)}`);
      assertClean(r, 'relay');
      assert.equal(r.maxSizeSent, CLIENT_DATAGRAM_LIMIT.relay);
    });
  },
);

test(
  'WireGuard through burrow: wireguard-go behind each NAT (MTU 1280: 1312-byte datagrams fit the direct path\'s 1371), a round trip and 16 MiB byte-exact over the WireGuard addresses',
  { skip, timeout: 150_000 },
  async (t) => {
    const WG_PORT = 51820;
    const VISIT = 51900;
    const homeKeys = wgKeyPair();
    const laptopKeys = wgKeyPair();
    const ifs: WireGuardInterface[] = [];
    try {
      await withPair('xtcp', `127.0.0.1:${WG_PORT}`, `127.0.0.1:${VISIT}`, async (pair) => {
        const wh = await startWireGuard(lab, home, {
          keys: homeKeys, address: '10.77.0.1/24', listenPort: WG_PORT, mtu: 1280,
          peer: { publicKey: laptopKeys.publicKey, allowedIps: '10.77.0.2/32' },
        });
        ifs.push(wh);
        const wl = await startWireGuard(lab, laptop, {
          keys: laptopKeys, address: '10.77.0.2/24', listenPort: WG_PORT + 1, mtu: 1280,
          peer: { publicKey: homeKeys.publicKey, endpoint: `127.0.0.1:${VISIT}`, allowedIps: '10.77.0.1/32', persistentKeepaliveSeconds: 5 },
        });
        ifs.push(wl);
        await startUdpEcho(lab, home, '10.77.0.1', ECHO_PORT + 1);
        // A real ping (ICMP echo inside WireGuard, WireGuard's UDP inside burrow): 3 answers wanted.
        const ping = await lab.exec(laptop, 'ping', ['-c', '5', '-i', '0.2', '-W', '2', '10.77.0.1'], { timeoutMs: 20_000, allowFail: true });
        const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
        t.diagnostic(`ping over WireGuard over burrow: ${ping.stdout.split('\n').filter((l) => /received|rtt/.test(l)).join('; ')}`);
        assert.ok(received >= 3, `ping answered ${received} of 5`);
        // And UDP round trips over the WireGuard addresses, for the latency figure.
        const rt = await pingPong(lab, laptop, 'udp', '10.77.0.1', ECHO_PORT + 1, 20, 64, 20_000);
        t.diagnostic(`round trip over WireGuard over burrow (${pair.path}): p50 ${rt.p50Ms.toFixed(2)} ms`);
        assert.ok(rt.n > 0);
        assert.match(await wh.show('latest-handshakes'), new RegExp(`${laptopKeys.publicKey.replace(/[+/=]/g, '\\$&')}\\s+[1-9]\\d*`), 'the home side completed a handshake');

        const target = spawnNode(lab, home, [STREAM_ENTRY, 'target', '10.77.0.1', '9000']);
        await target.waitFor(/"ready":true/, 15_000);
        const MiB16 = 16 * 1024 * 1024;
        const seed = `wg-${process.pid}-${Date.now()}`;
        const client = spawnNode(lab, laptop, [STREAM_ENTRY, 'client', '10.77.0.1', '9000', String(MiB16), '0', seed, '90000']);
        const rep = await new Transfer(client, MiB16, 0, 90_000).result();
        t.diagnostic(`16 MiB over WireGuard: ${JSON.stringify(rep)}`);
        assert.ok(rep.ok && rep.downVerified, `byte-exact: ${rep.error ?? ''}`);
        assert.equal(rep.receivedBytes, MiB16);
        const tooBig = events(pair.visitor).filter((e) => e.event === 'udp-datagram-too-big').length + events(pair.provider).filter((e) => e.event === 'udp-datagram-too-big').length;
        assert.equal(tooBig, 0, 'MTU 1280 never overflows the direct path');
      });
    } finally {
      for (const i of ifs.reverse()) await i.stop();
    }
    assert.ok(ifs.every((i) => !existsSync(`/var/run/wireguard/${i.name}.sock`)), 'no control socket left');
  },
);

test('DNS through burrow: dnsmasq behind the provider answers an A query sent to the visitor', { skip, timeout: 90_000 }, async () => {
  let dns: Dnsmasq | undefined;
  try {
    dns = await startDnsmasq(lab, home, { ip: home.ip, port: 5353, records: { 'test.burrow': '10.9.9.9' } });
    const d = dns;
    await withPair('xtcp', `${home.ip}:5353`, '127.0.0.1:30053', async () => {
      const r = await dnsQuery(lab, laptop, '127.0.0.1', 30_053, 'test.burrow', 10_000);
      assert.ok(!('error' in r), `answered: ${JSON.stringify(r)}`);
      assert.equal(r.rcode, 0);
      assert.deepEqual(r.answers.map((a) => [a.name, a.type, a.data]), [['test.burrow', 1, '10.9.9.9']]);
      assert.ok(d.queries('test.burrow') >= 1, 'dnsmasq itself saw the query');
    });
  } finally {
    await dns?.stop();
  }
});

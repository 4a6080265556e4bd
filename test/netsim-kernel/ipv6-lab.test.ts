/**
 * Kernel lane, IPv6 layer: global /64s routed behind RFC 6092 firewalls (no
 * NAT66), v6-only hosts, "IPv4 UDP blocked, IPv6 open", a lab name with A and
 * AAAA records, and nothing left behind. Plain UDP/TCP probes.
 * Needs root and nftables/conntrack/iproute2/stun-client/stun-server; skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  Lab,
  NETNS_ETC,
  kernelLabSkipReason,
  listNamespaces,
  sweepStale,
  type LabNode,
  type NatSite,
} from '../../netsim/kernel/index.js';
import { tcpConnect, tcpEcho, udpEcho, udpListen, udpSend } from './helpers.js';

const skip = kernelLabSkipReason();
const ECHO = 7000;
const TCP_ECHO = 7001;
const NAME = 'rendezvous.lab.example';
let lab: Lab;
let a: NatSite; // dual stack, port-restricted v4 NAT
let b: NatSite; // dual stack, port-restricted v4 NAT
let v6only: NatSite;
let udp4Blocked: NatSite; // IPv4 UDP blocked, IPv6 open

function ip6(n: LabNode): string {
  assert.ok(n.ip6, `${n.ns} has an IPv6 address`);
  return n.ip6;
}

function host0(s: NatSite): LabNode {
  const h = s.hosts[0];
  assert.ok(h, `site ${s.index} has a host`);
  return h;
}

/** "ECHO addr:port …" → the source the echo server saw (the address may be IPv6). */
function seenFrom(data: string | undefined): { ip: string; port: number } {
  const m = data === undefined ? null : /^ECHO (\S+):(\d+) /.exec(data);
  if (!m || m[1] === undefined) throw new Error(`not an echo reply: ${JSON.stringify(data)}`);
  return { ip: m[1], port: Number(m[2]) };
}

/** Whether datagrams `from` sends (from bindPort) to host:port arrive at a listener there. */
async function reaches(host: LabNode, port: number, from: LabNode, bindPort: number): Promise<{ reached: boolean; from?: string }> {
  const l = await udpListen(lab, host, port, 800, 6);
  await udpSend(lab, from, { bindPort, dst: ip6(host), dstPort: port, count: 3, intervalMs: 30, waitMs: 50 });
  const got = (await l.result()).filter((d) => d.data.startsWith('probe'));
  return got[0] ? { reached: true, from: got[0].from } : { reached: false };
}

before(async () => {
  if (skip) return;
  lab = await Lab.create({ ipv6: true });
  a = await lab.addSite('port-restricted-cone', { ipv6: 'dual' });
  b = await lab.addSite('port-restricted-cone', { ipv6: 'dual' });
  v6only = await lab.addSite('port-restricted-cone', { ipv6: 'v6-only' });
  udp4Blocked = await lab.addSite('udp-blocked', { ipv6: 'dual' });
  lab.addName(NAME);
  await udpEcho(lab, lab.server, lab.server.ip, ECHO);
  await udpEcho(lab, lab.server, ip6(lab.server), ECHO);
  await tcpEcho(lab, lab.server, ip6(lab.server), TCP_ECHO);
});

after(async () => {
  if (skip || !lab) return;
  const mine = lab.namespaces();
  const left = await lab.close();
  assert.deepEqual(left, [], 'close() reports no namespace left');
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${lab.runId}-`)), []);
  for (const ns of mine) assert.ok(!existsSync(`${NETNS_ETC}/${ns}`), `${NETNS_ETC}/${ns} removed`);
});

test('the IPv4 side is untouched: the dual sites still classify as their profiles', { skip }, () => {
  assert.equal(a.verdict?.nat, 'nat');
  assert.equal(a.verdict?.filtering, 'port');
  assert.equal(udp4Blocked.verdict?.nat, 'blocked');
  assert.equal(v6only.verdict, undefined, 'a v6-only site is not classified (stun is IPv4 only)');
  assert.equal(a.prefix6, '2001:db8:1::/64');
});

test('a v6 host reaches the server with its own global address as source (no NAT66)', { skip }, async () => {
  const h = host0(a);
  const r = await udpSend(lab, h, { bindPort: 21001, dst: ip6(lab.server), dstPort: ECHO, count: 3, intervalMs: 20 });
  assert.ok(r.replies.length > 0, 'echo over IPv6 came back');
  assert.deepEqual(seenFrom(r.replies[0]?.data), { ip: ip6(h), port: 21001 });
  assert.match(ip6(h), /^2001:db8:1::/, 'the address is from the site /64');
  const t = await tcpConnect(lab, h, ip6(lab.server), TCP_ECHO);
  assert.equal(t.ok, true, `TCP over IPv6: ${t.error ?? ''}`);
  // Over IPv4 the same host is still behind its NAT.
  const r4 = await udpSend(lab, h, { bindPort: 21002, dst: lab.server.ip, dstPort: ECHO, count: 3, intervalMs: 20 });
  assert.equal(seenFrom(r4.replies[0]?.data).ip, a.publicIp);
});

test('the firewall drops unsolicited IPv6 and opens a pinhole once the inside host sent', { skip }, async () => {
  const h = host0(a);
  const peer = host0(b);
  const port = 22001;
  assert.equal((await reaches(h, port, lab.server, 7100)).reached, false, 'server → inside host, unsolicited: dropped');
  assert.equal((await reaches(h, port, peer, 22002)).reached, false, 'host behind B → inside host, unsolicited: dropped');
  assert.equal((await reaches(h, port, lab.outside, 7100)).reached, false, 'outside host → inside host: dropped');

  // The inside host sends to B's host (B's firewall drops it: that is one side of a punch).
  await udpSend(lab, h, { bindPort: port, dst: ip6(peer), dstPort: 22002, count: 1, waitMs: 0 });
  const back = await reaches(h, port, peer, 22002);
  assert.equal(back.reached, true, 'after the inside host sent, the peer comes in through the pinhole');
  assert.equal(back.from, ip6(peer), 'with its own global address');
  // Address- and port-dependent: the same peer from another port is still dropped.
  assert.equal((await reaches(h, port, peer, 22003)).reached, false, 'another port of the peer: dropped');
});

test('simultaneous open over IPv6: two firewalled hosts sending to each other both receive', { skip }, async () => {
  const ha = host0(a);
  const hb = host0(b);
  const send = (from: LabNode, bind: number, to: LabNode, toPort: number) =>
    udpSend(lab, from, { bindPort: bind, dst: ip6(to), dstPort: toPort, count: 10, intervalMs: 50, waitMs: 500 });
  const [ra, rb] = await Promise.all([send(ha, 23001, hb, 23002), send(hb, 23002, ha, 23001)]);
  assert.ok(ra.replies.some((d) => d.from === ip6(hb) && d.port === 23002), `A got B's probes: ${JSON.stringify(ra.replies.slice(0, 2))}`);
  assert.ok(rb.replies.some((d) => d.from === ip6(ha) && d.port === 23001), `B got A's probes: ${JSON.stringify(rb.replies.slice(0, 2))}`);
});

test('a v6-only host has no IPv4 address or route, and reaches the server over IPv6', { skip }, async () => {
  const h = host0(v6only);
  assert.equal(h.ip, ip6(h), 'its main address is the IPv6 one');
  assert.equal((await lab.exec(h, 'ip', ['-4', 'route', 'show'])).stdout.trim(), '', 'no IPv4 route');
  assert.equal((await lab.exec(h, 'ip', ['-4', '-o', 'addr', 'show', 'scope', 'global'])).stdout.trim(), '', 'no IPv4 address');
  const t4 = await tcpConnect(lab, h, lab.server.ip, TCP_ECHO, 1000);
  assert.equal(t4.ok, false);
  assert.equal(t4.error, 'ENETUNREACH');
  const r = await udpSend(lab, h, { bindPort: 24001, dst: ip6(lab.server), dstPort: ECHO, count: 3, intervalMs: 20 });
  assert.deepEqual(seenFrom(r.replies[0]?.data), { ip: ip6(h), port: 24001 });
});

test('"IPv4 UDP blocked, IPv6 open": v4 UDP is dropped, v6 UDP passes', { skip }, async () => {
  const h = host0(udp4Blocked);
  const r4 = await udpSend(lab, h, { bindPort: 25001, dst: lab.server.ip, dstPort: ECHO, count: 5, waitMs: 500 });
  assert.equal(r4.replies.length, 0, 'IPv4 UDP does not get through');
  const r6 = await udpSend(lab, h, { bindPort: 25002, dst: ip6(lab.server), dstPort: ECHO, count: 3, intervalMs: 20 });
  assert.ok(r6.replies.length > 0, 'IPv6 UDP gets through');
  assert.equal(seenFrom(r6.replies[0]?.data).ip, ip6(h));
});

test('the lab name resolves to the server\'s IPv4 and IPv6 address inside a host namespace only', { skip }, async () => {
  const h = host0(a);
  const r = await lab.exec(h, 'getent', ['ahosts', NAME]);
  const addrs = new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter((s) => s));
  assert.ok(addrs.has(lab.server.ip), `A record: ${r.stdout}`);
  assert.ok(addrs.has(ip6(lab.server)), `AAAA record: ${r.stdout}`);
  assert.ok(existsSync(`${NETNS_ETC}/${h.ns}/hosts`));
  // Node's resolver (what a peer's net.connect uses) sees both families too, also on a v6-only host.
  const lookup = `require('node:dns').lookup(process.argv[1], { all: true }, (e, a) => { console.log(JSON.stringify(e ? { error: e.code } : a.map((x) => x.address).sort())); })`;
  for (const node of [h, host0(v6only)]) {
    const n = await lab.exec(node, process.execPath, ['-e', lookup, NAME]);
    assert.deepEqual(JSON.parse(n.stdout), [lab.server.ip, ip6(lab.server)].sort(), `node dns.lookup in ${node.ns}`);
  }
  // The machine's own /etc/hosts does not know it.
  assert.ok(!readFileSync('/etc/hosts', 'utf8').includes(NAME), 'the real /etc/hosts is untouched');
  const outsideLab = spawnSync('getent', ['ahosts', NAME], { encoding: 'utf8', timeout: 10_000 });
  assert.notEqual(outsideLab.status, 0, 'the name does not resolve outside the lab');
});

test('closeSync (the exit path) and sweepStale also remove /etc/netns files', { skip }, async () => {
  const l2 = await Lab.create({ ipv6: true, selfCheck: false });
  const made = l2.namespaces();
  l2.addName('other.lab.example');
  for (const ns of made) assert.ok(existsSync(`${NETNS_ETC}/${ns}/hosts`));
  l2.closeSync();
  for (const ns of made) assert.ok(!existsSync(`${NETNS_ETC}/${ns}`), `${ns} files removed by closeSync`);
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${l2.runId}-`)), []);

  // A crashed run's file without its namespace: swept.
  const dead = spawnSync('true').pid;
  assert.ok(dead);
  const stale = `bnk-${dead.toString(36)}zzz-nat1h0`;
  mkdirSync(`${NETNS_ETC}/${stale}`, { recursive: true });
  writeFileSync(`${NETNS_ETC}/${stale}/hosts`, '127.0.0.1 localhost\n');
  const r = await sweepStale('bnk');
  assert.ok(r.removed.includes(`${NETNS_ETC}/${stale}`), JSON.stringify(r));
  assert.ok(!existsSync(`${NETNS_ETC}/${stale}`));
  // The live lab's files are left alone.
  assert.ok(existsSync(`${NETNS_ETC}/${host0(a).ns}/hosts`));
});

const here = fileURLToPath(import.meta.url);
const crashChild = here.replace(/ipv6-lab\.test\.(ts|js)$/, 'ipv6-crash-child.$1');
const crashCmd = here.endsWith('.ts') ? ['--import', 'tsx', crashChild] : [crashChild];

test('a run that dies of an uncaught error with the lab open leaves no namespace and no /etc/netns file', { skip: skip ?? (!existsSync(crashChild) && 'helper script missing') }, async () => {
  const r = spawnSync(process.execPath, crashCmd, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, `the child failed as planned (stderr: ${r.stderr.slice(-300)})`);
  assert.match(r.stderr, /simulated test failure/);
  const made = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { runId?: string; namespaces?: string[] };
  assert.ok(made.runId && made.namespaces && made.namespaces.length >= 5, `child reported its lab: ${r.stdout}`);
  const left = (await listNamespaces()).filter((n) => n.includes(`-${made.runId}-`));
  for (const ns of left) spawnSync('ip', ['netns', 'del', ns]); // do not cascade into later runs
  assert.deepEqual(left, [], 'no namespace of the dead run is left');
  for (const ns of made.namespaces) assert.ok(!existsSync(`${NETNS_ETC}/${ns}`), `${NETNS_ETC}/${ns} removed`);
});

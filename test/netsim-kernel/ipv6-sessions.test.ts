/**
 * Kernel lane, issue 10's IPv6 acceptance: the real burrow CLI (rendezvous,
 * provider, visitor, `burrow nat`) in lab namespaces with IPv6 (ipv6.ts).
 *
 *   server    burrow rendezvous --listen [::]:7000, named NAME (A + AAAA, lab.addName)
 *   v4        port-restricted NAT, IPv4 only
 *   v6only    hosts with IPv6 only (no IPv4 address or route)
 *   symA/B    dual stack: IPv4 behind random-symmetric NATs, IPv6 routed behind RFC 6092 firewalls
 *   blocked   dual stack: IPv4 UDP blocked, IPv6 open
 *
 * Every transfer is the matrix's byte-exact duplex check (matrix/traffic.ts).
 * The last test: a rendezvous on `[::]` answers STUN from the address it was
 * asked on (per-address sockets, rendezvous/stun-addresses.ts), not from
 * whatever source the kernel would pick.
 * Needs root and nftables/conntrack/iproute2/stun-client/stun-server; skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Lab, SERVER_IP6, SERVER_IP6_ALT, kernelLabSkipReason, listNamespaces, type LabNode, type LabProcess, type NatSite } from '../../netsim/kernel/index.js';
import { BURROW_ENTRY, events, eventsSince, spawnNode, waitEvent, waitExit, type LogEvent } from '../../netsim/kernel/cli-process.js';
import { TRAFFIC_ENTRY, type ClientReport } from '../../netsim/kernel/matrix/index.js';
import { parseConntrack } from '../../netsim/kernel/conntrack.js';
import type { NatCheckReport } from '../../src/nat/report.js';
import { normaliseAddress } from '../../src/net/endpoint.js';

const skip = kernelLabSkipReason() ?? (!existsSync(BURROW_ENTRY) || !existsSync(TRAFFIC_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : false);
const NAME = 'rendezvous.lab.example';
const RV_PORT = 7000;
const TOKEN = 'ipv6-sessions-token';
const SIZE = 128 * 1024;
const TARGET_PORT = 9000;
const DIRECT_V6 = 'direct internet IPv6';
/** Bound on session-up → direct-up over IPv6 (no port to predict: one round of probes). */
const DIRECT_WAIT_MS = 10_000;
const RUNS = 20;

let lab: Lab;
let v4: NatSite;
let v6only: NatSite;
let symA: NatSite;
let symB: NatSite;
let blocked: NatSite;
let visitPort = 20_000;

function host0(s: NatSite): LabNode {
  const h = s.hosts[0];
  assert.ok(h, `site ${s.index} has a host`);
  return h;
}

function ip6(n: LabNode): string {
  assert.ok(n.ip6, `${n.ns} has an IPv6 address`);
  return n.ip6;
}

/** "addr:port" or "[addr]:port" as logged → address and port. */
function endpointOf(text: unknown): { address: string; port: number } {
  const s = String(text);
  const i = s.lastIndexOf(':');
  const address = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`not an endpoint: ${JSON.stringify(text)}`);
  return { address: normaliseAddress(address), port };
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The address of a logged endpoint, or null when it is not one. */
function addressOf(text: unknown): string | null {
  try {
    return endpointOf(text).address;
  } catch {
    return null;
  }
}

function burrow(node: LabNode, args: readonly string[]): LabProcess {
  return spawnNode(lab, node, [BURROW_ENTRY, ...args, '--log-format', 'json']);
}

function peerArgs(service: string): string[] {
  return ['--server', `${NAME}:${RV_PORT}`, '--token', TOKEN, '--name', service, '--secret', `${service}-secret`, '--no-portmap'];
}

const downSeed = (service: string): string => `down:${service}`;

/** The traffic target and `burrow provide` on `node`; resolves once registered. */
async function startProvider(node: LabNode, service: string, targetPort: number): Promise<LabProcess> {
  const target = spawnNode(lab, node, [TRAFFIC_ENTRY, 'target', '127.0.0.1', String(targetPort), String(SIZE), downSeed(service)]);
  await target.waitFor(/"ready":true/, 15_000);
  const p = burrow(node, ['provide', ...peerArgs(service), '--to', `127.0.0.1:${targetPort}`]);
  await waitEvent(p, 'provider', 'registered', 20_000);
  return p;
}

/** `burrow visit` on `node`; resolves once the session is up (on whatever path). */
async function startVisitor(node: LabNode, service: string): Promise<{ visitor: LabProcess; port: number }> {
  const port = visitPort++;
  const visitor = burrow(node, ['visit', ...peerArgs(service), '--listen', `127.0.0.1:${port}`]);
  await waitEvent(visitor, 'visitor', 'session-up', 20_000);
  return { visitor, port };
}

/** One byte-exact duplex transfer through the visitor's listener; returns the client's report. */
async function transfer(node: LabNode, port: number, service: string, run: number): Promise<ClientReport> {
  const client = spawnNode(lab, node, [TRAFFIC_ENTRY, 'client', '127.0.0.1', String(port), String(SIZE), `up:${service}:${run}`, downSeed(service), '20000']);
  assert.ok(await waitExit(client, 35_000), 'the traffic client finished in time');
  const line = client.stdout().trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  assert.ok(line, `the client printed a report: ${client.stderr().slice(-300)}`);
  const rep = JSON.parse(line) as ClientReport;
  assert.equal(rep.ok, true, `byte-exact both ways: ${line}`);
  assert.ok(rep.upVerified && rep.downVerified && rep.sentBytes === SIZE && rep.receivedBytes === SIZE, line);
  return rep;
}

/** The visitor's `connection` log line of the transfer (the path each TCP connection was carried on). */
function lastConnection(visitor: LabProcess): LogEvent {
  const c = events(visitor).filter((e) => e.event === 'connection').at(-1);
  assert.ok(c, `the visitor logged the connection: ${visitor.stderr().slice(-600)}`);
  return c;
}

/**
 * The session went direct over IPv6 between the two hosts' global
 * addresses: the visitor's `direct-up` and its connection say so, the
 * provider locked the visitor's global address, and the visitor's router
 * holds a replied conntrack entry for exactly that UDP/IPv6 flow (the
 * kernel's own record, independent of burrow's logs).
 */
async function assertDirectV6(visitor: LabProcess, provider: LabProcess, since: number, vHost: LabNode, pHost: LabNode, vSite: NatSite, what: string): Promise<void> {
  const up = await waitEvent(visitor, `${what}: visitor`, 'direct-up', DIRECT_WAIT_MS, { since });
  assert.equal(up.path, DIRECT_V6, `${what}: the visitor's direct-up path (${JSON.stringify(up)})`);
  const remote = endpointOf(up.remote);
  assert.equal(remote.address, normaliseAddress(ip6(pHost)), `${what}: the visitor locked the provider's global IPv6 address`);
  const visitorIp = normaliseAddress(ip6(vHost));
  const pUp = await waitEvent(provider, `${what}: provider`, (e) => e.event === 'direct-up' && addressOf(e.remote) === visitorIp, 5000, { since });
  const local = endpointOf(pUp.remote); // the visitor's socket: no NAT66, so what the provider locked is the visitor's own address:port
  assert.equal(pUp.path, DIRECT_V6, `${what}: the provider's direct-up path`);
  const flows = parseConntrack((await lab.exec(vSite.router, 'conntrack', ['-L', '-f', 'ipv6', '-p', 'udp'], { allowFail: true })).stdout);
  const flow = flows.find(
    (f) =>
      (normaliseAddress(f.orig.src) === local.address && f.orig.sport === local.port && normaliseAddress(f.orig.dst) === remote.address && f.orig.dport === remote.port) ||
      (normaliseAddress(f.orig.dst) === local.address && f.orig.dport === local.port && normaliseAddress(f.orig.src) === remote.address && f.orig.sport === remote.port),
  );
  assert.ok(flow && !flow.unreplied, `${what}: the visitor's router tracks the UDP/IPv6 flow both ways: ${JSON.stringify(flows.slice(0, 6))}`);
}

before(async () => {
  if (skip) return;
  lab = await Lab.create({ ipv6: true });
  [v4, v6only, symA, symB, blocked] = await Promise.all([
    lab.addSite('port-restricted-cone'),
    lab.addSite('port-restricted-cone', { ipv6: 'v6-only' }),
    lab.addSite('symmetric-random', { ipv6: 'dual' }),
    lab.addSite('symmetric-random', { ipv6: 'dual' }),
    lab.addSite('udp-blocked', { ipv6: 'dual' }),
  ]);
  lab.addName(NAME);
  const rv = burrow(lab.server, ['rendezvous', '--listen', `[::]:${RV_PORT}`, '--token', TOKEN]);
  const listening = await waitEvent(rv, 'rendezvous', 'listening', 15_000);
  assert.equal(listening.tcpFamilies, 'ipv6+ipv4', JSON.stringify(listening));
});

after(async () => {
  if (skip || !lab) return;
  const left = await lab.close();
  assert.deepEqual(left, [], 'close() reports no namespace left');
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${lab.runId}-`)), []);
});

test('the lab as built: the server answers from the address it was asked on, the sites classify as their profiles', { skip }, async () => {
  // A [::]-bound rendezvous answers STUN from the kernel's source choice: that must be the address peers use.
  const route = await lab.exec(lab.server, 'ip', ['-6', 'route', 'get', ip6(host0(symA))]);
  assert.match(route.stdout, new RegExp(` src ${esc(SERVER_IP6)} `), route.stdout);
  assert.equal(symA.verdict?.nat, 'nat');
  assert.equal(symA.verdict?.mapping, 'dependent');
  assert.equal(blocked.verdict?.nat, 'blocked');
  assert.equal(host0(v4).ip6, undefined, 'the v4 site has no IPv6');
  assert.equal(host0(v6only).ip, ip6(host0(v6only)), 'the v6-only host has no IPv4 address');
});

/** A pair across families: the relay carries it, byte-exact, and the visitor says why it is not direct. */
async function relayAcrossFamilies(pSite: NatSite, vSite: NatSite, service: string, t: { diagnostic(m: string): void }): Promise<void> {
  const pHost = host0(pSite);
  const vHost = host0(vSite);
  const provider = await startProvider(pHost, service, TARGET_PORT + pSite.index);
  try {
    const { visitor, port } = await startVisitor(vHost, service);
    try {
      const failed = await waitEvent(visitor, 'visitor', 'punch-failed', 15_000);
      t.diagnostic(`visitor: punch-failed: ${String(failed.reason)}`);
      assert.equal(failed.fallback, 'relay');
      assert.ok(typeof failed.reason === 'string' && failed.reason.length > 0, 'the visitor logged why there is no direct path');
      await transfer(vHost, port, service, 0);
      const conn = lastConnection(visitor);
      assert.equal(conn.path, 'relay', JSON.stringify(conn));
      assert.ok(typeof conn.why === 'string' && conn.why.length > 0, `the connection says why it is not direct: ${JSON.stringify(conn)}`);
      assert.equal(events(visitor).filter((e) => e.event === 'direct-up').length, 0, 'no direct path between the families');
      // The v6-only side's IPv4 session socket has no route: it says so, not "UDP blocked".
      const v6side = pSite === v6only ? provider : visitor;
      const noV4 = events(v6side).find((e) => (e.event === 'direct-unavailable' || e.event === 'direct-family-unavailable') && /IPv4/.test(String(e.reason)));
      assert.ok(noV4, `the v6-only side says why IPv4 offers nothing: ${v6side.stderr().slice(-600)}`);
      assert.match(String(noV4.reason), /^no IPv4 route to the rendezvous/);
      assert.doesNotMatch(String(noV4.reason), /blocked/);
      // Each side reached the dual-stack rendezvous over the one family it has (Happy Eyeballs on NAME).
      for (const node of [pHost, vHost]) {
        const want = node.ip6 === undefined ? `${lab.server.ip}:${RV_PORT}` : `[${SERVER_IP6}]:${RV_PORT}`;
        const ss = await lab.exec(node, 'ss', ['-H', '-t', '-n', 'state', 'established']);
        assert.ok(ss.stdout.includes(want), `${node.ns} talks to the rendezvous at ${want}: ${ss.stdout}`);
      }
    } finally {
      await visitor.stop();
    }
  } finally {
    await provider.stop();
  }
}

test('v6-only visitor, IPv4-only provider, dual-stack rendezvous by name: the relay carries the service byte-exact', { skip, timeout: 60_000 }, async (t) => {
  await relayAcrossFamilies(v4, v6only, 'v6visitor', t);
});

test('the reverse: v6-only provider, IPv4-only visitor: the relay carries the service byte-exact', { skip, timeout: 60_000 }, async (t) => {
  await relayAcrossFamilies(v6only, v4, 'v6provider', t);
});

test(
  `both sites dual stack, IPv4 random-symmetric on both: direct over IPv6, ${RUNS}/${RUNS} sessions`,
  { skip, timeout: 120_000 },
  async (t) => {
    const service = 'v6sym';
    const pHost = host0(symA);
    const vHost = host0(symB);
    const provider = await startProvider(pHost, service, TARGET_PORT + symA.index);
    const times: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const since = Date.now();
        const { visitor, port } = await startVisitor(vHost, service);
        try {
          await assertDirectV6(visitor, provider, since, vHost, pHost, symB, `run ${i + 1}`);
          const up = eventsSince(visitor, since, ['direct-up'])[0];
          if (typeof up?.sinceSessionMs === 'number') times.push(up.sinceSessionMs);
          await transfer(vHost, port, service, i);
          assert.equal(lastConnection(visitor).path, DIRECT_V6, `run ${i + 1}: the transfer went direct over IPv6`);
        } finally {
          await visitor.stop();
        }
      }
    } finally {
      await provider.stop();
    }
    times.sort((a, b) => a - b);
    t.diagnostic(`${RUNS}/${RUNS} direct over IPv6; session-up to direct: p50 ${times[Math.floor(times.length / 2)]} ms, max ${times.at(-1)} ms`);
  },
);

test('IPv4 UDP blocked at the visitor, IPv6 open at both sites: direct over IPv6', { skip, timeout: 60_000 }, async () => {
  const service = 'v6blocked';
  const pHost = host0(symA);
  const vHost = host0(blocked);
  const provider = await startProvider(pHost, service, TARGET_PORT + 100 + symA.index);
  try {
    const since = Date.now();
    const { visitor, port } = await startVisitor(vHost, service);
    try {
      await assertDirectV6(visitor, provider, since, vHost, pHost, blocked, 'udp-blocked visitor');
      await transfer(vHost, port, service, 0);
      assert.equal(lastConnection(visitor).path, DIRECT_V6);
    } finally {
      await visitor.stop();
    }
  } finally {
    await provider.stop();
  }
});

/** `burrow nat --json` in a lab host against the rendezvous by name; exit status and report. */
async function burrowNat(node: LabNode): Promise<{ code: number | null; report: NatCheckReport; stderr: string }> {
  const r = await lab.exec(node, process.execPath, [BURROW_ENTRY, 'nat', '--server', `${NAME}:${RV_PORT}`, '--alt-port', '--json', '--timeout', '1000', '--no-portmap'], {
    allowFail: true,
    timeoutMs: 30_000,
  });
  let report: NatCheckReport;
  try {
    report = JSON.parse(r.stdout) as NatCheckReport;
  } catch {
    throw new Error(`burrow nat in ${node.ns} printed no JSON report (exit ${r.code}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(-300)}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

/** The IPv6 section says what the lab built: UDP over IPv6 works from the host's one global address, untranslated. */
function assertIpv6Open(rep: NatCheckReport, node: LabNode): void {
  const v6 = rep.ipv6;
  const mine = normaliseAddress(ip6(node));
  assert.equal(v6.status, 'ok', v6.summary);
  assert.deepEqual(v6.global, [mine], 'the global address is the one the lab gave the host');
  assert.deepEqual(v6.usable, [mine]);
  assert.equal(v6.server?.address, SERVER_IP6, "the name's AAAA record");
  assert.equal(v6.local?.address, mine);
  assert.deepEqual(v6.mapped, v6.local, 'the server saw the host address and port: no NPTv6, no NAT66');
  assert.equal(v6.translated, false);
}

test('burrow nat reports what the lab built: dual stack behind random-symmetric, v6-only, IPv4 UDP blocked with IPv6 open, IPv4 only', { skip, timeout: 60_000 }, async () => {
  const [dual, only6, noUdp4, only4] = await Promise.all([burrowNat(host0(symA)), burrowNat(host0(v6only)), burrowNat(host0(blocked)), burrowNat(host0(v4))]);

  assert.equal(dual.code, 0, dual.stderr);
  assert.equal(dual.report.udp, 'ok');
  assert.equal(dual.report.nat, 'present');
  assert.equal(dual.report.mapped?.address, symA.publicIp);
  assert.equal(dual.report.mapping.behaviour, 'address-and-port-dependent', dual.report.mapping.explanation);
  assert.equal(dual.report.portAllocation.kind, 'random', dual.report.portAllocation.explanation);
  assertIpv6Open(dual.report, host0(symA));

  // The exit status is the IPv4 tests' (documented): no IPv4 answer is 1, with the report printed.
  assert.equal(only6.code, 1, only6.stderr);
  assert.equal(only6.report.udp, 'blocked');
  assert.equal(only6.report.mapped, null);
  assert.match(only6.report.summary, new RegExp(`^No route to ${esc(lab.server.ip)}:${RV_PORT}: this host has no IPv4 address or route`), 'no IPv4 at all, not "UDP blocked"');
  assertIpv6Open(only6.report, host0(v6only));

  assert.equal(noUdp4.code, 1, noUdp4.stderr);
  assert.equal(noUdp4.report.udp, 'blocked');
  assert.equal(noUdp4.report.mapped, null);
  assert.match(noUdp4.report.summary, new RegExp(`^No answer from ${esc(lab.server.ip)}:${RV_PORT} over UDP`), 'IPv4 is there, its UDP is dropped');
  assertIpv6Open(noUdp4.report, host0(blocked));

  // A host without IPv6 says so (not "no answer").
  assert.equal(only4.code, 0, only4.stderr);
  assert.equal(only4.report.mapped?.address, v4.publicIp);
  assert.equal(only4.report.portAllocation.kind, 'preserving', only4.report.portAllocation.explanation);
  assert.equal(only4.report.ipv6.status, 'no-address', only4.report.ipv6.summary);
  assert.deepEqual(only4.report.ipv6.global, []);
});

test(
  'a rendezvous on [::] answers STUN over IPv6 from the address it was asked on, also when the kernel would pick another source',
  { skip, timeout: 30_000 },
  async () => {
    // Make the server's second address preferred (as a second global address often is): Linux then sources replies from it.
    const shown = (await lab.exec(lab.server, 'ip', ['-6', '-o', 'addr', 'show'])).stdout;
    const dev = new RegExp(`^\\d+: (\\S+)\\s+inet6 ${esc(SERVER_IP6_ALT)}/64`, 'm').exec(shown)?.[1];
    assert.ok(dev, shown);
    await lab.exec(lab.server, 'ip', ['-6', 'addr', 'change', `${SERVER_IP6_ALT}/64`, 'dev', dev, 'nodad', 'preferred_lft', 'forever']);
    try {
      const route = await lab.exec(lab.server, 'ip', ['-6', 'route', 'get', ip6(host0(symA))]);
      assert.match(route.stdout, new RegExp(` src ${esc(SERVER_IP6_ALT)} `), `precondition: the kernel now picks the other address: ${route.stdout}`);
      const { report } = await burrowNat(host0(symA));
      assert.equal(report.ipv6.status, 'ok', report.ipv6.summary);
    } finally {
      await lab.exec(lab.server, 'ip', ['-6', 'addr', 'change', `${SERVER_IP6_ALT}/64`, 'dev', dev, 'nodad', 'preferred_lft', '0']);
    }
  },
);

/**
 * STUN on the real CLI rendezvous, on loopback: Debian's `stun` client gets
 * its own address back and classifies "Open"; `burrow nat` reports no NAT,
 * the IPv6 section against a rendezvous on ::1, and the port-mapping section
 * against 127.0.0.1 as the "router"; the rendezvous releases its UDP ports on
 * exit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { bindUdpSocket } from '../../src/net/bind.js';
import type { NatCheckReport, NatReport } from '../../src/nat/report.js';
import { parseStunOutput } from '../../netsim/kernel/stun.js';
import { ProcessGroup, freePort, startLab } from '../support/cli.js';

const run = promisify(execFile);
const group = new ProcessGroup();
after(() => group.killAll());

async function haveStunClient(): Promise<boolean> {
  try {
    await run('stun', [], { timeout: 5000 });
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Linux routes all of 127/8 to lo; elsewhere 127.0.0.2 may not exist. */
async function canBind(address: string): Promise<boolean> {
  try {
    (await bindUdpSocket({ address })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `burrow nat`. The port-mapping probe would ask this machine's real
 * default gateway: off unless the test names a gateway (127.0.0.1) itself.
 */
async function burrowNat(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const named = args.includes('--gateway');
  const portmap = named ? [] : ['--no-portmap'];
  // The harness sets BURROW_PORTMAP=off for every process; a named loopback gateway may be asked.
  const p = group.spawn('nat', ['nat', ...args, ...portmap], { json: false, ...(named ? { env: { BURROW_PORTMAP: 'on' } } : {}) });
  const code = await p.waitExit(30_000);
  return { code, stdout: p.stdout, stderr: p.stderrText.join('\n') };
}

describe('STUN on the rendezvous (loopback, real processes)', () => {
  it('listens for UDP on its TCP port number, +1, and on the alternate address; logs them on the listening line', async (t) => {
    if (!(await canBind('127.0.0.2'))) {
      t.skip('127.0.0.2 is not a local address here (needed as the second address)');
      return;
    }
    const lab = await startLab(group, { rendezvousArgs: ['--alt-address', '127.0.0.2'] });
    const ev = await lab.rendezvous.waitEvent('listening');
    const p = lab.rvPort;
    assert.equal(ev.tcp, `127.0.0.1:${p}`);
    assert.equal(ev.udp, `127.0.0.1:${p},127.0.0.1:${p + 1},127.0.0.2:${p},127.0.0.2:${p + 1}`);

    await it("Debian's stun client gets its own address and port back, and says Open", async (t) => {
      if (!(await haveStunClient())) {
        t.skip('the stun binary (Debian package stun-client) is not installed');
        return;
      }
      const r = await run('stun', [`127.0.0.1:${p}`, '-v'], { timeout: 20_000 }).catch((e: { stdout: string; stderr: string }) => e);
      const out = `${r.stdout}\n${r.stderr}`;
      const opened = [...out.matchAll(/Opened port (\d+)/g)].map((m) => Number(m[1]));
      const mapped = [...out.matchAll(/MappedAddress = ([\d.]+):(\d+)/g)].map((m) => ({ ip: m[1], port: Number(m[2]) }));
      assert.ok(mapped.length >= 3, `got mapped addresses: ${out.slice(-600)}`);
      for (const m of mapped) {
        assert.equal(m.ip, '127.0.0.1');
        assert.ok(opened.includes(m.port), `mapped port ${m.port} is one of the client's own (${opened.join(', ')})`);
      }
      assert.match(out, /ChangedAddress = 127\.0\.0\.2:/);
      const v = parseStunOutput(out);
      assert.equal(v.nat, 'open', v.primary);
    });

    await it('burrow nat --json reports no NAT, endpoint-independent mapping and filtering', async () => {
      const r = await burrowNat(['--server', `127.0.0.1:${p}`, '--json', '--timeout', '1000']);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as NatReport;
      assert.equal(rep.udp, 'ok');
      assert.equal(rep.nat, 'none');
      assert.deepEqual(rep.mapped, rep.local);
      assert.equal(rep.mapping.behaviour, 'endpoint-independent');
      assert.equal(rep.filtering.behaviour, 'endpoint-independent');
      assert.deepEqual(rep.serverAlternate, { address: '127.0.0.2', port: p + 1 });
      assert.deepEqual(rep.notRun, []);
    });

    await it('burrow nat in plain words', async () => {
      const r = await burrowNat(['--server', `localhost:${p}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /NAT\s+none/);
      assert.match(r.stdout, /mapping\s+endpoint-independent/);
      assert.match(r.stdout, /No NAT: your public address is your own/);
    });

    await it('the rendezvous closes its UDP sockets when it stops', async () => {
      lab.rendezvous.kill('SIGTERM');
      assert.equal(await lab.rendezvous.waitExit(10_000), 0);
      for (const [address, port] of [['127.0.0.1', p], ['127.0.0.1', p + 1], ['127.0.0.2', p], ['127.0.0.2', p + 1]] as const) {
        const s = await bindUdpSocket({ address, port });
        s.close();
      }
    });
  });

  it('one address: --alt-port narrows filtering; without it the report says what it could not test', async () => {
    const lab = await startLab(group);
    const p = lab.rvPort;
    const withAlt = JSON.parse((await burrowNat(['--server', `127.0.0.1:${p}`, '--json', '--alt-port', '--timeout', '1000'])).stdout) as NatReport;
    assert.equal(withAlt.nat, 'none');
    assert.deepEqual(withAlt.serverAlternate, { address: '127.0.0.1', port: p + 1 });
    assert.deepEqual(withAlt.filtering.possible, ['endpoint-independent', 'address-dependent']);
    const bare = await burrowNat(['--server', `127.0.0.1:${p}`, '--timeout', '1000']);
    assert.equal(bare.code, 0);
    assert.match(bare.stdout, /not tested\s+filtering: the server cannot answer from another address or port/);
  });

  it('exit 1 and a clear message when nothing answers; exit 2 on bad arguments', async () => {
    const silent = await freePort();
    const r = await burrowNat(['--server', `127.0.0.1:${silent}`, '--timeout', '300']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no STUN answer from 127\.0\.0\.1:\d+ over UDP/);
    assert.match(r.stdout, /No answer from 127\.0\.0\.1:\d+ over UDP/);
    assert.equal((await burrowNat(['--server', 'nonsense'])).code, 2);
    assert.equal((await burrowNat([])).code, 2);
    assert.equal((await burrowNat(['--server', '127.0.0.1:1', '--timeout', 'x'])).code, 2);
  });

  it('IPv6 section against a rendezvous on ::1, port-mapping section against 127.0.0.1 ("no router answered", about 1 s)', async (t) => {
    if (!(await canBind('::1'))) {
      t.skip('::1 is not available here (IPv6 disabled)');
      return;
    }
    const lab = await startLab(group);
    const p = lab.rvPort;
    const rv6 = group.spawn('rendezvous ::1', ['rendezvous', '--listen', `[::1]:${p}`, '--token', lab.token]);
    await rv6.waitEvent('listening');

    const started = Date.now();
    const r = await burrowNat(['--server', `127.0.0.1:${p}`, '--server6', `[::1]:${p}`, '--gateway', '127.0.0.1', '--json', '--timeout', '1000']);
    const wall = Date.now() - started;
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as NatCheckReport;
    // The IPv4 report is unchanged.
    assert.equal(rep.nat, 'none');
    assert.deepEqual(rep.server, { address: '127.0.0.1', port: p });
    // IPv6: the server on ::1 answered and saw our own address.
    assert.equal(rep.ipv6.status, 'ok', rep.ipv6.summary);
    assert.deepEqual(rep.ipv6.server, { address: '::1', port: p });
    assert.equal(rep.ipv6.local?.address, '::1');
    assert.deepEqual(rep.ipv6.mapped, rep.ipv6.local);
    assert.equal(rep.ipv6.translated, false);
    for (const a of [...rep.ipv6.global, ...rep.ipv6.uniqueLocal]) assert.doesNotMatch(a, /^fe[89ab]/i, 'never link-local');
    // Port mapping: nothing answers on 127.0.0.1, quickly.
    assert.equal(rep.portMapping.status, 'no-router', rep.portMapping.summary);
    assert.equal(rep.portMapping.gateway, '127.0.0.1');
    assert.deepEqual(rep.portMapping.answered, []);
    assert.equal(rep.portMapping.release, null);
    assert.ok(rep.portMapping.durationMs <= 1300, `the port-mapping probe took ${rep.portMapping.durationMs} ms`);
    assert.ok(wall < 8000, `burrow nat took ${wall} ms`);

    const words = await burrowNat(['--server', `127.0.0.1:${p}`, '--server6', `[::1]:${p}`, '--gateway', '127.0.0.1', '--timeout', '1000']);
    assert.equal(words.code, 0, words.stderr);
    assert.match(words.stdout, /NAT\s+none/, 'the IPv4 section is still there');
    assert.match(words.stdout, /\nIPv6\n {2}server\s+\[::1\]:\d+\n/);
    assert.match(words.stdout, /UDP over IPv6\s+works/);
    assert.match(words.stdout, /translated\s+no/);
    assert.match(words.stdout, /\nPort mapping\n {2}router\s+127\.0\.0\.1\n {2}answered\s+none\n {2}port mapping\s+no router answered/);
    assert.match(words.stdout, /No router answered NAT-PMP, PCP or UPnP IGD at 127\.0\.0\.1/);

    // An IPv6 literal --server: the IPv6 test goes there too.
    const lit = JSON.parse((await burrowNat(['--server', `[::1]:${p}`, '--json', '--timeout', '1000'])).stdout) as NatCheckReport;
    assert.equal(lit.ipv6.status, 'ok');
    assert.equal(lit.portMapping.status, 'skipped');

    // An IPv4 literal alone: the IPv6 test says why it did not run; the IPv4 report is made as before.
    const v4only = await burrowNat(['--server', `127.0.0.1:${p}`, '--timeout', '1000']);
    assert.equal(v4only.code, 0);
    assert.match(v4only.stdout, /UDP over IPv6\s+not tested \(no IPv6 address for the server\)/);
    assert.match(v4only.stdout, /IPv6 not tested: --server is an IPv4\s+address/);
    assert.match(v4only.stdout, /port mapping\s+not tested \(--no-portmap or BURROW_PORTMAP=off\)/);

    // Nothing listening on ::1 at that port any more: "no answer", and the IPv4 report does not wait for it beyond its own bound.
    rv6.kill('SIGTERM');
    await rv6.waitExit(10_000);
    const t0 = Date.now();
    const silent = JSON.parse((await burrowNat(['--server', `127.0.0.1:${p}`, '--server6', `[::1]:${p}`, '--json', '--timeout', '1000'])).stdout) as NatCheckReport;
    assert.equal(silent.nat, 'none');
    assert.equal(silent.ipv6.status, 'no-answer');
    assert.ok(silent.ipv6.durationMs < 1500, `the IPv6 probe took ${silent.ipv6.durationMs} ms`);
    assert.ok(Date.now() - t0 < 8000);
  });

  it('--udp-port off: no STUN at all; a bad --udp-port or --alt-address is a usage error', async () => {
    const lab = await startLab(group, { rendezvousArgs: ['--udp-port', 'off'] });
    const ev = await lab.rendezvous.waitEvent('listening');
    assert.equal(ev.udp, undefined);
    assert.equal((await burrowNat(['--server', `127.0.0.1:${lab.rvPort}`, '--timeout', '300'])).code, 1);
    for (const bad of [['--udp-port', 'x'], ['--udp-port', '65535'], ['--alt-address', '127.0.0.2'], ['--udp-port', 'off', '--alt-address', '127.0.0.2']]) {
      const listen = bad.includes('--alt-address') && !bad.includes('off') ? '0.0.0.0' : '127.0.0.1';
      const rv = group.spawn('bad rendezvous', ['rendezvous', '--listen', `${listen}:${await freePort()}`, '--token', 't', ...bad]);
      assert.equal(await rv.waitExit(10_000), 2, `${bad.join(' ')}: ${rv.stderrText.join(' ')}`);
    }
  });
});

/**
 * `burrow nat` on the LAN host behind a real miniupnpd router (router-lab.ts),
 * with a burrow rendezvous on the outside host as the STUN server: the
 * port-mapping section names the protocol, the external address and the
 * lifetime, sees no NAT above the router (the STUN server saw the same
 * address), and the test mapping is gone from the router after exit. With a
 * reserved WAN address (100.64.0.1) it says another NAT sits above.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI } from '../support/cli.js';
import type { NatCheckReport } from '../../src/nat/report.js';
import { sleep } from '../../netsim/kernel/exec.js';
import { RouterLab, routerLabSkipReason } from './router-lab.js';

const skip = routerLabSkipReason();
const PORT = 7300;

/** A rendezvous on the outside host; resolves once it listens. */
async function startOutsideRendezvous(lab: RouterLab): Promise<void> {
  const rv = lab.startIn('outside', process.execPath, [CLI, 'rendezvous', '--listen', `${lab.outsideAddress}:${PORT}`, '--token', 't', '--log-format', 'json']);
  let log = '';
  rv.stdout!.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-8000)));
  rv.stderr!.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-8000)));
  const deadline = Date.now() + 15_000;
  while (!log.includes('"listening"')) {
    if (Date.now() > deadline || rv.exitCode !== null) throw new Error(`the rendezvous did not start: ${log.slice(-1000)}`);
    await sleep(50);
  }
}

async function burrowNat(lab: RouterLab, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return lab.runIn('lan', process.execPath, [CLI, 'nat', '--server', `${lab.outsideAddress}:${PORT}`, '--timeout', '1000', ...extra]);
}

test('burrow nat behind miniupnpd (WAN 11.0.0.1): PCP maps, external address and lifetime reported, no NAT above, mapping deleted at exit', { skip, timeout: 120_000 }, async () => {
  const lab = await RouterLab.create({ wanAddress: '11.0.0.1', natpmp: true, upnp: true });
  try {
    await startOutsideRendezvous(lab);
    const r = await burrowNat(lab, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as NatCheckReport;
    assert.equal(rep.mapped?.address, '11.0.0.1', 'the STUN server saw the router');
    const pm = rep.portMapping;
    assert.equal(pm.status, 'mapped', `${pm.summary}\n${lab.log.slice(-1500)}`);
    assert.equal(pm.gateway, '192.168.77.1');
    // UPnP too: the report waits the whole SSDP search (probeEveryProtocol), although PCP answered first.
    assert.deepEqual([...pm.answered].sort(), ['natpmp', 'pcp', 'upnp'], JSON.stringify(pm.answered));
    assert.equal(pm.protocol, 'pcp', 'PCP preferred when it answered');
    assert.equal(pm.externalAddress, '11.0.0.1');
    assert.ok(pm.externalPort !== null && pm.externalPort >= 1024);
    assert.ok(pm.lifetimeSeconds !== null && pm.lifetimeSeconds > 0 && pm.lifetimeSeconds <= 120, String(pm.lifetimeSeconds));
    assert.equal(pm.behindAnotherNat, false);
    assert.equal(pm.release, 'deleted');
    assert.deepEqual(await lab.forwards(), [], 'the test mapping outlived burrow nat');

    // The same in words.
    const words = await burrowNat(lab, []);
    assert.equal(words.code, 0, words.stderr);
    assert.match(words.stdout, /\nPort mapping\n {2}router\s+192\.168\.77\.1\n {2}answered\s+PCP, NAT-PMP/);
    assert.match(words.stdout, /port mapping\s+yes, by PCP/);
    assert.match(words.stdout, /external address\s+11\.0\.0\.1:\d+/);
    assert.match(words.stdout, /lifetime\s+\d+ s/);
    assert.match(words.stdout, /NAT above router\s+no/);
    assert.match(words.stdout, /it\s+was\s+deleted\s+again\s+before\s+exit\./);
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

test('burrow nat behind a router on 100.64.0.1: another NAT above, nothing left mapped', { skip, timeout: 120_000 }, async () => {
  const lab = await RouterLab.create({ wanAddress: '100.64.0.1', natpmp: true, upnp: true });
  try {
    await startOutsideRendezvous(lab);
    const r = await burrowNat(lab, ['--json']);
    assert.equal(r.code, 0, r.stderr);
    const pm = (JSON.parse(r.stdout) as NatCheckReport).portMapping;
    assert.equal(pm.status, 'behind-nat', pm.summary);
    assert.equal(pm.externalAddress, '100.64.0.1');
    assert.equal(pm.behindAnotherNat, true);
    assert.match(pm.summary, /100\.64\.0\.1 .*another NAT sits above the router/);
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

/**
 * Two acceptance checks of router port mapping in the mapped-xtcp lab (root,
 * network namespaces, Debian's miniupnpd; see mapped-xtcp-lab.ts), with the
 * real CLI peers:
 *
 * 1. miniupnpd restarts mid-transfer and its table is lost: the transfer
 *    completes byte-exact, and the logs say how the session got through
 *    (mapped again / back on the relay and punched again). Twice: with the
 *    router's UDP conntrack flows dropped too (as a reboot would: the path
 *    dies, the session falls back and re-punches through a new mapping),
 *    and with them kept (the flow goes on through conntrack's DNAT).
 * 2. The mapping router's WAN is in carrier-NAT space (100.64.0.1/10, a
 *    carrier NAT above it): nothing is advertised, the pair relays
 *    byte-exact, and the provider's log says why — with PCP ("another NAT
 *    sits above the router", the address named) and with UPnP only
 *    ("the router would not map: … 501 … (another NAT above it?)").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routerLabSkipReason } from './router-lab.js';
import { MappedXtcpLab, echoTransfer, startPair, type LabProcess } from './mapped-xtcp-lab.js';

const skip = routerLabSkipReason();

function since(p: LabProcess, from: number, event: string): Array<Record<string, unknown>> {
  return p.lines.slice(from).filter((l) => l['event'] === event);
}

test('miniupnpd restarted mid-transfer (table and flows lost): the transfer completes byte-exact; the logs say how the session recovered', { skip, timeout: 150_000 }, async (t) => {
  const lab = await MappedXtcpLab.create();
  try {
    const { provider, visitor } = await startPair(lab, []);
    const up = await visitor.waitFor('direct-up', 30_000);
    assert.equal(up['candidate'], 'mapped', JSON.stringify(up));
    const firstExternal = String(up['remote']);

    // 8 MiB each way, paced to about 650 KB/s: it runs well past the restart and the recovery.
    const transfer = echoTransfer(lab, 8 * 1024 * 1024, 25, 120_000);
    await transfer.waitFor('transfer-progress', 30_000, (l) => Number(l['received']) >= 1024 * 1024);
    const pFrom = provider.lines.length;
    const vFrom = visitor.lines.length;
    await lab.restartDaemon({ dropUdpFlows: true });
    t.diagnostic(`miniupnpd restarted at ${JSON.stringify(transfer.events('transfer-progress').at(-1))}; the router had ${firstExternal}`);

    const done = await transfer.waitFor('transfer-done', 120_000);
    assert.equal(done['ok'], true, `transfer: ${JSON.stringify(done)}; visitor: ${JSON.stringify(visitor.lines.slice(vFrom).slice(-30))}`);
    assert.equal(done['sentSha256'], done['receivedSha256']);

    // How did it get through? Read it from the peers' logs after the restart.
    const lost = since(visitor, vFrom, 'direct-lost');
    const reUp = since(visitor, vFrom, 'direct-up');
    const mappedAgain = since(provider, pFrom, 'portmap').filter((l) => l['outcome'] === 'mapped');
    const portmapLost = since(provider, pFrom, 'portmap').filter((l) => l['outcome'] === 'lost');
    let story: string;
    if (lost.length > 0) {
      assert.equal(lost[0]?.['fallback'], 'relay', JSON.stringify(lost[0]));
      // Back on the relay, the session punched again; the new attempt's mapper asked the restarted miniupnpd.
      const again = await visitor.waitFor('direct-up', 30_000, (l) => visitor.lines.indexOf(l) >= vFrom);
      assert.equal(again['candidate'], 'mapped', JSON.stringify(again));
      assert.ok(since(provider, pFrom, 'portmap').some((l) => l['outcome'] === 'mapped' && l['external'] === again['remote']), 'the provider logged the new mapping');
      const port = Number(String(again['remote']).split(':')[1]);
      assert.ok((await lab.forwards()).some((f) => f.externalPort === port), 'the restarted miniupnpd holds the new forward');
      story = `the direct path died (${String(lost[0]?.['reason'])}); the session fell back to the relay, punched again and went direct through a new mapping ${String(again['remote'])}`;
    } else if (portmapLost.length > 0 && mappedAgain.length > 0) {
      story = `the mapper noticed the lost table (${String(portmapLost[0]?.['reason'])}) and mapped again (${String(mappedAgain[0]?.['external'])}) without losing the path`;
    } else {
      assert.fail(`neither a fallback nor a new mapping in the logs: visitor ${JSON.stringify(lost.concat(reUp))}, provider ${JSON.stringify(provider.lines.slice(pFrom, pFrom + 40))}`);
    }
    t.diagnostic(`after the restart: ${story}; ${String(done['received'])} bytes back in ${String(done['ms'])} ms, sha256 ${String(done['receivedSha256'])} matches`);

    assert.equal(await provider.stop(), 0);
    await visitor.stop();
    assert.deepEqual(await lab.forwards(), [], `forwards left on the router; its log: ${lab.routerLog.slice(-1500)}`);
  } finally {
    await lab.close();
  }
});

test('miniupnpd restarted mid-transfer, the router keeping its conntrack flows: the flow goes on direct through the stale DNAT, byte-exact; the logs show no fallback', { skip, timeout: 150_000 }, async (t) => {
  const lab = await MappedXtcpLab.create();
  try {
    const { provider, visitor } = await startPair(lab, []);
    const up = await visitor.waitFor('direct-up', 30_000);
    assert.equal(up['candidate'], 'mapped', JSON.stringify(up));
    const transfer = echoTransfer(lab, 4 * 1024 * 1024, 25, 120_000);
    await transfer.waitFor('transfer-progress', 30_000, (l) => Number(l['received']) >= 1024 * 1024);
    const pFrom = provider.lines.length;
    const vFrom = visitor.lines.length;
    await lab.restartDaemon({ dropUdpFlows: false });
    const done = await transfer.waitFor('transfer-done', 120_000);
    assert.equal(done['ok'], true, JSON.stringify(done));
    // The table is gone, the flow is not: conntrack still translates it, so the path never breaks. The mapper
    // learns of the restart at its next refresh (half the lifetime) and maps again then.
    assert.deepEqual(since(visitor, vFrom, 'direct-lost'), [], 'no fallback');
    assert.deepEqual(await lab.forwards(), [], 'the restarted miniupnpd has no forward');
    t.diagnostic(`after the restart: the direct path went on through the router's conntrack entry (${String(up['remote'])}); ${String(done['received'])} bytes back byte-exact; provider portmap lines since: ${JSON.stringify(since(provider, pFrom, 'portmap'))}`);
  } finally {
    await lab.close();
  }
});

test('the mapping router has a carrier-NAT WAN (100.64.0.1/10): nothing advertised, the pair relays byte-exact, the provider log says why', { skip, timeout: 90_000 }, async (t) => {
  const lab = await MappedXtcpLab.create({ carrierNat: true });
  try {
    const { provider, visitor } = await startPair(lab, []);
    const verdict = await provider.waitFor('portmap', 20_000, (l) => l['outcome'] !== 'pending');
    assert.equal(verdict['outcome'], 'not-advertised', JSON.stringify(verdict));
    assert.match(String(verdict['reason']), /100\.64\.0\.1/, 'names the address the router has');
    assert.match(String(verdict['reason']), /another NAT/i, 'says another NAT sits above the router');
    t.diagnostic(`provider log: ${String(verdict['kind'])}: ${String(verdict['reason'])}`);

    const failed = await visitor.waitFor('punch-failed', 30_000);
    assert.equal(failed['fallback'], 'relay');
    const transfer = echoTransfer(lab, 512 * 1024, 5, 60_000);
    const done = await transfer.waitFor('transfer-done', 60_000);
    assert.equal(done['ok'], true, JSON.stringify(done));
    assert.equal(visitor.events('direct-up').length, 0, 'no direct path');
    assert.ok(!provider.events('portmap').some((l) => l['outcome'] === 'mapped'), 'no mapping offered');
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

test('the same carrier-NAT router with UPnP only (no NAT-PMP/PCP): it refuses with 501, the provider log says the router would not map and why that may be', { skip, timeout: 90_000 }, async (t) => {
  const lab = await MappedXtcpLab.create({ carrierNat: true, natpmp: false });
  try {
    const { provider, visitor } = await startPair(lab, []);
    const verdict = await provider.waitFor('portmap', 20_000, (l) => l['outcome'] !== 'pending');
    assert.equal(verdict['outcome'], 'none', JSON.stringify(verdict));
    assert.equal(verdict['kind'], 'refused', JSON.stringify(verdict));
    assert.match(String(verdict['reason']), /^the router would not map: .*UPnP.*501.*\(another NAT above it\?\)$/);
    t.diagnostic(`provider log: ${String(verdict['kind'])}: ${String(verdict['reason'])}`);

    const failed = await visitor.waitFor('punch-failed', 30_000);
    assert.equal(failed['fallback'], 'relay');
    const done = await echoTransfer(lab, 512 * 1024, 5, 60_000).waitFor('transfer-done', 60_000);
    assert.equal(done['ok'], true, JSON.stringify(done));
    assert.equal(visitor.events('direct-up').length, 0, 'no direct path');
    assert.deepEqual(await lab.forwards(), []);
  } finally {
    await lab.close();
  }
});

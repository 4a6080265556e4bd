/**
 * Issue 12's metrics acceptance: a rendezvous, a provider and a visitor (real
 * CLI processes) each with --metrics, traffic through them over the direct
 * path (xtcp) and over the relay (stcp), then every role scraped: the counts
 * moved as they should, and each scrape passes `promtool check metrics`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProcessGroup, startLab, type BurrowProcess } from '../support/cli.js';
import { echoTarget, type Target } from '../support/targets.js';
import { exchange, sha256 } from '../support/client.js';
import { metricsUrl, parseScrape, promtoolCheck, promtoolMissing, scrape, total, type Sample } from './scrape.js';

const METRICS = ['--metrics', '127.0.0.1:0'];
const group = new ProcessGroup();
const targets: Target[] = [];
/** Every scrape taken, for the promtool test at the end. */
const scrapes: { who: string; text: string }[] = [];

after(async () => {
  await group.killAll();
  await Promise.all(targets.map((t) => t.close()));
});

async function scrapeOf(who: string, p: BurrowProcess): Promise<Sample[]> {
  const text = await scrape(await metricsUrl(p));
  scrapes.push({ who, text });
  return parseScrape(text);
}

/** A lab whose three roles serve metrics, one service, and `bytes` echoed through it. */
async function run(mode: 'xtcp' | 'stcp', bytes: number) {
  const lab = await startLab(group, { rendezvousArgs: METRICS, peerArgs: ['--mode', mode] });
  const target = await echoTarget();
  targets.push(target);
  const provider = await lab.provide('svc', 'svc-secret', target.port, METRICS);
  const { proc: visitor, port } = await lab.visit('svc', 'svc-secret', METRICS);
  if (mode === 'xtcp') await Promise.all([visitor.waitEvent('direct-up'), provider.waitEvent('direct-up')]);
  else await visitor.waitEvent('session-up');
  const data = randomBytes(bytes);
  const got = await exchange(port, data);
  assert.equal(got.sha256, sha256(data));
  return { lab, provider, visitor };
}

test('xtcp: the direct path, its punch and its bytes show on all three roles', async () => {
  const N = 300_000;
  const { lab, provider, visitor } = await run('xtcp', N);
  const rv = await scrapeOf('rendezvous (xtcp)', lab.rendezvous);
  assert.equal(total(rv, 'burrow_rendezvous_peers', { role: 'provider' }), 1);
  assert.equal(total(rv, 'burrow_rendezvous_peers', { role: 'visitor' }), 1);
  assert.equal(total(rv, 'burrow_rendezvous_services'), 1);
  assert.equal(total(rv, 'burrow_rendezvous_punch_pairs'), 1);
  assert.ok((total(rv, 'burrow_rendezvous_punch_attempts_total', { outcome: 'introduced' }) ?? 0) >= 1, 'a punch introduced');
  // Both peers asked the rendezvous's STUN port for their address.
  assert.ok((total(rv, 'burrow_rendezvous_stun_requests_total', { outcome: 'answered' }) ?? 0) >= 2);
  assert.equal(total(rv, 'burrow_rendezvous_refusals_total'), 0);

  for (const [role, p] of [['visitor', visitor], ['provider', provider]] as const) {
    const s = await scrapeOf(`${role} (xtcp)`, p);
    const m = (what: string) => `burrow_${role}_${what}`;
    assert.equal(total(s, m('sessions')), 1, `${role}: one session`);
    assert.equal(total(s, m('sessions'), { path: /^direct_/ }), 1, `${role}: on a direct path`);
    assert.equal(total(s, m('sessions'), { path: 'relay' }), 0);
    assert.equal(total(s, m('sessions_opened_total')), 1);
    assert.ok((total(s, m('bytes_total'), { direction: 'sent' }) ?? 0) >= N, `${role}: bytes sent`);
    assert.ok((total(s, m('bytes_total'), { direction: 'received' }) ?? 0) >= N, `${role}: bytes received`);
    assert.ok((total(s, m('punches_total'), { outcome: 'direct' }) ?? 0) >= 1, `${role}: a punch that worked`);
    assert.equal(total(s, m('path_deaths_total')), 0);
    const rtt = total(s, m('rtt_seconds'), { path: 'direct' });
    assert.ok(rtt !== undefined && rtt > 0 && rtt < 1, `${role}: direct RTT ${rtt}`);
    // The tests turn port mapping off (BURROW_PORTMAP=off): none held.
    assert.equal(total(s, m('port_mappings')), 0);
    // The process's own metrics, under their standard names.
    assert.ok((total(s, 'process_cpu_seconds_total') ?? 0) > 0);
    assert.ok((total(s, 'process_resident_memory_bytes') ?? 0) > 0);
  }
});

test('stcp: relay bytes by direction on the rendezvous, the relay path on the peers, refusals by reason', async () => {
  const N = 200_000;
  const { lab, provider, visitor } = await run('stcp', N);
  let rv = await scrapeOf('rendezvous (stcp)', lab.rendezvous);
  assert.equal(total(rv, 'burrow_rendezvous_relay_links'), 1);
  assert.equal(total(rv, 'burrow_rendezvous_punch_pairs'), 0);
  // Sealed records are bigger than what they carry: at least N each way.
  assert.ok((total(rv, 'burrow_rendezvous_relay_bytes_total', { direction: 'to_provider' }) ?? 0) >= N);
  assert.ok((total(rv, 'burrow_rendezvous_relay_bytes_total', { direction: 'to_visitor' }) ?? 0) >= N);
  for (const [role, p] of [['visitor', visitor], ['provider', provider]] as const) {
    const s = await scrapeOf(`${role} (stcp)`, p);
    assert.equal(total(s, `burrow_${role}_sessions`, { path: 'relay' }), 1, `${role}: one session, on the relay`);
    assert.equal(total(s, `burrow_${role}_sessions`), 1);
    assert.equal(total(s, `burrow_${role}_punches_total`), 0, `${role}: stcp never punches`);
    assert.ok((total(s, `burrow_${role}_bytes_total`, { direction: 'sent' }) ?? 0) >= N);
    // The relay is TCP with no ARQ of ours on it: no KCP round trip to report there.
    assert.equal(total(s, `burrow_${role}_rtt_seconds`, { path: 'relay' }), undefined, `${role}: no relay RTT`);
  }

  // A visitor with the wrong secret, and one with the wrong token: each refused, each counted by its reason.
  const wrongSecret = group.spawn('wrong secret', ['visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', lab.token, '--name', 'svc', '--secret', 'not-it', '--listen', '127.0.0.1:0', '--mode', 'stcp']);
  assert.equal(await wrongSecret.waitExit(), 1);
  const wrongToken = group.spawn('wrong token', ['visit', '--server', `127.0.0.1:${lab.rvPort}`, '--token', 'not-the-token', '--name', 'svc', '--secret', 'svc-secret', '--listen', '127.0.0.1:0', '--mode', 'stcp']);
  assert.equal(await wrongToken.waitExit(), 1);
  rv = await scrapeOf('rendezvous (stcp, after refusals)', lab.rendezvous);
  assert.equal(total(rv, 'burrow_rendezvous_refusals_total', { reason: 'secret_mismatch' }), 1);
  assert.equal(total(rv, 'burrow_rendezvous_refusals_total', { reason: 'bad_token' }), 1);
  assert.equal(total(rv, 'burrow_rendezvous_refusals_total'), 2);
});

const missing = promtoolMissing();
test('every scrape above passes `promtool check metrics` without a complaint', { skip: missing ?? false }, () => {
  assert.ok(scrapes.length >= 7, `scrapes taken: ${scrapes.length}`);
  for (const { who, text } of scrapes) {
    const r = promtoolCheck(text);
    assert.equal(r.output.trim(), '', `${who}: promtool says:\n${r.output}`);
    assert.equal(r.status, 0, who);
  }
});

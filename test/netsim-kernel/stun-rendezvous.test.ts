/**
 * The rendezvous's STUN port behind real kernel NATs: `burrow rendezvous
 * --alt-address` in the lab's server namespace; behind each NAT, Debian's
 * `stun` pointed at it must get the NAT's public address and classify the
 * NAT exactly as it does against the lab's stund, and `burrow nat --json`
 * must report the profile's RFC 4787 behaviour.
 * Needs root and the kernel lane's packages; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Lab, compareVerdict, kernelLabSkipReason, parseStunOutput, type LabProcess, type NatSite, type ProfileName } from '../../netsim/kernel/index.js';
import { BURROW_ENTRY } from '../../netsim/kernel/cli-process.js';
import type { NatReport } from '../../src/nat/report.js';

const skip = kernelLabSkipReason() ?? (!existsSync(BURROW_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : undefined);
const PORT = 7000;

/** Node flags that load tsx when we run under it, so the CLI runs the same way in the namespaces. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    if (/^--(import|require|loader)=/.test(a[i]!)) out.push(a[i]!);
    else if (/^(--import|--require|-r|--loader)$/.test(a[i]!) && a[i + 1] !== undefined) out.push(a[i]!, a[++i]!);
  }
  return out;
}

/** Logs go to stderr; LabProcess.waitFor watches stdout. Polls, bounded. */
async function waitLogged(p: LabProcess, re: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(p.stderr())) {
    if (!p.running) throw new Error(`the rendezvous exited: ${p.stderr().slice(-400)}`);
    if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms: ${p.stderr().slice(-400)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Want {
  mapping: string | null;
  filtering: string | null;
  ports: string;
  hairpin?: boolean;
  blocked?: boolean;
}

const PROFILES: Partial<Record<ProfileName, Want>> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent', ports: 'preserving' },
  'restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-dependent', ports: 'preserving' },
  'port-restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', ports: 'preserving' },
  'symmetric-random': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', ports: 'random' },
  hairpin: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', ports: 'preserving', hairpin: true },
  'udp-blocked': { mapping: null, filtering: null, ports: 'unknown', blocked: true },
};

describe('STUN on the rendezvous behind kernel NATs', { skip, timeout: 120_000 }, () => {
  let lab: Lab;
  let rv: LabProcess;
  const sites = new Map<ProfileName, NatSite>();

  before(async () => {
    lab = await Lab.create({ selfCheck: false });
    rv = lab.spawn(lab.server, process.execPath, [
      ...loaderArgs(),
      BURROW_ENTRY,
      'rendezvous',
      '--listen',
      `${lab.server.ip}:${PORT}`,
      '--alt-address',
      lab.server.ip2,
      '--token',
      'kernel-stun-test',
      '--log-format',
      'json',
    ]);
    // Sites are built (and checked by stun against stund) while the rendezvous starts.
    const built = Promise.all(
      (Object.keys(PROFILES) as ProfileName[]).map(async (p) => {
        sites.set(p, await lab.addSite(p));
      }),
    );
    await waitLogged(rv, /"event":"listening"/, 15_000);
    await built;
  });

  after(async () => {
    await lab?.close();
  });

  it('the rendezvous listens on both addresses and both ports', () => {
    const line = /"event":"listening".*$/m.exec(rv.stderr())![0];
    const s = lab.server;
    assert.match(line, new RegExp(`"udp":"${s.ip}:${PORT},${s.ip}:${PORT + 1},${s.ip2}:${PORT},${s.ip2}:${PORT + 1}"`));
  });

  for (const [profile, want] of Object.entries(PROFILES) as [ProfileName, Want][]) {
    it(`${profile}: Debian's stun against the rendezvous says what it says against stund; burrow nat says ${want.blocked ? 'UDP blocked (exit 1)' : `${want.mapping} / ${want.filtering} / ${want.ports}${want.hairpin ? ' / hairpin' : ''}`}`, async () => {
      const site = sites.get(profile)!;
      const host = site.hosts[0]!;
      const reference = site.verdict!;
      assert.ok(reference, 'the lab classified the site against stund');

      const [stun, nat] = await Promise.all([
        lab.exec(host, 'stun', [`${lab.server.ip}:${PORT}`, '-v'], { timeoutMs: 30_000, allowFail: true }),
        lab.exec(host, process.execPath, [...loaderArgs(), BURROW_ENTRY, 'nat', '--server', `${lab.server.ip}:${PORT}`, '--json', '--timeout', '1000'], {
          timeoutMs: 30_000,
          allowFail: true,
        }),
      ]);

      const out = `${stun.stdout}\n${stun.stderr}`;
      const mapped = [...out.matchAll(/MappedAddress = ([\d.]+):(\d+)/g)].map((m) => m[1]);
      assert.ok(want.blocked || mapped.length >= 1, `stun got a mapped address: ${out.slice(-500)}`);
      for (const ip of mapped) assert.equal(ip, site.publicIp, 'the mapped address is the NAT\'s public address');
      const verdict = parseStunOutput(out);
      assert.deepEqual(
        compareVerdict(reference, verdict),
        [],
        `against stund: "${reference.primary}"; against the rendezvous: "${verdict.primary}"`,
      );

      const report = JSON.parse(nat.stdout) as NatReport;
      if (want.blocked) {
        assert.equal(nat.code, 1, 'exit 1: no STUN answer');
        assert.equal(report.udp, 'blocked');
        assert.match(nat.stderr, /no STUN answer/);
        return;
      }
      assert.equal(nat.code, 0, nat.stderr);
      assert.equal(report.udp, 'ok');
      assert.equal(report.nat, 'present');
      assert.equal(report.mapped!.address, site.publicIp);
      assert.equal(report.mapping.behaviour, want.mapping, report.mapping.explanation);
      assert.equal(report.filtering.behaviour, want.filtering, report.filtering.explanation);
      assert.equal(report.portAllocation.kind, want.ports, report.portAllocation.explanation);
      assert.equal(report.hairpin.works, want.hairpin ?? false, report.hairpin.explanation);
      assert.deepEqual(report.notRun, []);
    });
  }

  it('the rendezvous ran without errors and stops on SIGTERM', async () => {
    assert.ok(rv.running, 'still running');
    await rv.stop(2000);
    assert.deepEqual(await rv.exited, { code: 0, signal: null });
    assert.doesNotMatch(rv.stderr(), /"level":"error"/);
  });
});

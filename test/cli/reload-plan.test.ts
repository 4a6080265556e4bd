/**
 * The reload plan (sans-I/O): which config entries start, stop, restart or
 * stay, inherited fields included, and which settings need a restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ConfigFile } from '../../cli/config.js';
import { changedFields, planReload, resolveEntries, settingsNeedingRestart, type ReloadPlan } from '../../cli/reload-plan.js';

const base: ConfigFile = {
  server: 'rv.example.com:7000',
  token: 'top-token',
  provide: [
    { name: 'nas', secret: 's-nas', to: '192.168.1.10:5000' },
    { name: 'ssh', secret: 's-ssh', to: '127.0.0.1:22', token: 'own-token' },
  ],
  visit: [{ name: 'printer', secret: 's-pr', listen: '127.0.0.1:6310' }],
};

/** The plan from `before` (all of it running, and its settings the startup ones) to `after`. */
function plan(before: ConfigFile, after: ConfigFile): ReloadPlan {
  return planReload(resolveEntries(before), before, after);
}

/** The plan as keys, for compact assertions. */
function keys(p: ReloadPlan): { stop: string[]; restart: string[]; start: string[]; keep: string[] } {
  return { stop: p.stop.map((e) => e.key), restart: p.restart.map((r) => r.after.key), start: p.start.map((e) => e.key), keep: p.keep.map((e) => e.key) };
}

describe('resolveEntries', () => {
  it('fills in inherited server, token, portmap and the defaults', () => {
    const [nas, ssh, printer] = resolveEntries({ ...base, portmap: false });
    assert.deepEqual(nas, { kind: 'provide', key: 'provide nas', name: 'nas', server: 'rv.example.com:7000', token: 'top-token', secret: 's-nas', to: '192.168.1.10:5000', mode: 'xtcp', portmap: false });
    assert.equal(ssh?.token, 'own-token');
    assert.deepEqual(printer, { kind: 'visit', key: 'visit printer', name: 'printer', server: 'rv.example.com:7000', token: 'top-token', secret: 's-pr', listen: '127.0.0.1:6310', mode: 'xtcp', relay: 'fallback', portmap: false });
  });

  it('keys a second entry of the same kind and name apart; the same name in both kinds is two entries', () => {
    const cfg: ConfigFile = {
      ...base,
      provide: [{ name: 'nas', secret: 's', to: '1.2.3.4:5' }],
      visit: [
        { name: 'nas', secret: 's', listen: '127.0.0.1:1' },
        { name: 'nas', secret: 's', listen: '127.0.0.1:2' },
      ],
    };
    assert.deepEqual(resolveEntries(cfg).map((e) => e.key), ['provide nas', 'visit nas', 'visit nas#2']);
  });
});

describe('changedFields', () => {
  it('a field only one side has counts as changed (an entry field the file format gains later takes part as it is)', () => {
    const [nas] = resolveEntries(base);
    assert.ok(nas);
    const withExtra = { ...nas, udp_idle: 30 } as unknown as typeof nas;
    assert.deepEqual(changedFields(nas, withExtra), ['udp_idle']);
    assert.deepEqual(changedFields(withExtra, { ...withExtra }), []);
  });
});

describe('planReload', () => {
  it('the same file: everything stays, nothing needs a restart', () => {
    const p = plan(base, structuredClone(base));
    assert.deepEqual(keys(p), { stop: [], restart: [], start: [], keep: ['provide nas', 'provide ssh', 'visit printer'] });
    assert.deepEqual(p.needsRestart, []);
  });

  it('an added [[provide]] starts; the others stay', () => {
    const after = structuredClone(base);
    after.provide?.push({ name: 'web', secret: 's-web', to: '127.0.0.1:80' });
    assert.deepEqual(keys(plan(base, after)), { stop: [], restart: [], start: ['provide web'], keep: ['provide nas', 'provide ssh', 'visit printer'] });
  });

  it('a removed entry stops', () => {
    const after = { ...structuredClone(base), visit: [] };
    assert.deepEqual(keys(plan(base, after)), { stop: ['visit printer'], restart: [], start: [], keep: ['provide nas', 'provide ssh'] });
  });

  it('a changed field restarts that entry and names the field, never its value', () => {
    const after = structuredClone(base);
    const nas = after.provide?.[0];
    assert.ok(nas);
    nas.to = '192.168.1.11:5000';
    nas.secret = 'new-secret';
    const p = plan(base, after);
    assert.deepEqual(keys(p), { stop: [], restart: ['provide nas'], start: [], keep: ['provide ssh', 'visit printer'] });
    assert.deepEqual(p.restart[0]?.fields, ['secret', 'to']);
    const r = p.restart[0];
    assert.ok(r?.before.kind === 'provide' && r.after.kind === 'provide');
    assert.equal(r.before.to, '192.168.1.10:5000');
    assert.equal(r.after.to, '192.168.1.11:5000');
  });

  it('a new top-level token restarts the entries that inherit it, not the one with its own', () => {
    const p = plan(base, { ...structuredClone(base), token: 'rotated' });
    assert.deepEqual(keys(p), { stop: [], restart: ['provide nas', 'visit printer'], start: [], keep: ['provide ssh'] });
    assert.deepEqual(p.restart.map((r) => r.fields), [['token'], ['token']]);
  });

  it('top-level server and portmap changes reach the entries that use them', () => {
    const withOwnServer = structuredClone(base);
    const printer = withOwnServer.visit?.[0];
    assert.ok(printer);
    printer.server = 'other.example.com:7000';
    assert.deepEqual(keys(plan(withOwnServer, { ...structuredClone(withOwnServer), server: 'rv2.example.com:7000' })).keep, ['visit printer']);
    const p = plan(base, { ...structuredClone(base), portmap: false });
    assert.deepEqual(keys(p).restart, ['provide nas', 'provide ssh', 'visit printer']);
    assert.deepEqual(p.restart[0]?.fields, ['portmap']);
    // portmap = true spelled out is the default: nothing changes.
    assert.deepEqual(keys(plan(base, { ...structuredClone(base), portmap: true })).restart, []);
  });

  it('a default spelled out is no change; a different mode is', () => {
    const after = structuredClone(base);
    const nas = after.provide?.[0];
    const printer = after.visit?.[0];
    assert.ok(nas && printer);
    nas.mode = 'xtcp';
    printer.relay = 'fallback';
    assert.deepEqual(keys(plan(base, after)).restart, []);
    printer.relay = 'never';
    assert.deepEqual(keys(plan(base, after)).restart, ['visit printer']);
  });

  it('compares against what runs, not the file: an entry that failed to start is started again', () => {
    const running = resolveEntries(base).filter((e) => e.key !== 'visit printer');
    const p = planReload(running, base, structuredClone(base));
    assert.deepEqual(keys(p), { stop: [], restart: [], start: ['visit printer'], keep: ['provide nas', 'provide ssh'] });
  });

  it('settings read only at start are reported, not planned', () => {
    const withRv: ConfigFile = { ...structuredClone(base), rendezvous: { listen: '0.0.0.0:7000' }, metrics: '127.0.0.1:9100', log_level: 'info' };
    assert.deepEqual(settingsNeedingRestart(withRv, structuredClone(withRv)), []);
    assert.deepEqual(settingsNeedingRestart(withRv, { ...structuredClone(withRv), metrics: '127.0.0.1:9200', log_level: 'debug', admin: '/tmp/x.sock' }), ['metrics', 'admin', 'log_level']);
    // The rendezvous inherits the top-level token: a new one changes it too (and restarts the entries using it).
    const rotated = planReload(resolveEntries(withRv), withRv, { ...structuredClone(withRv), token: 'rotated' });
    assert.deepEqual(rotated.needsRestart, ['rendezvous']);
    const removed: ConfigFile = structuredClone(withRv);
    delete removed.rendezvous;
    assert.deepEqual(settingsNeedingRestart(withRv, removed), ['rendezvous']);
  });

  it('property: every running and every wanted entry lands in exactly one bucket, the wanted ones as the file says', () => {
    const entry = fc.record({
      name: fc.constantFrom('a', 'b', 'c'),
      secret: fc.constantFrom('s1', 's2'),
      to: fc.constantFrom('127.0.0.1:1', '127.0.0.1:2'),
      token: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
    });
    const cfg = fc.record({ token: fc.constantFrom('T1', 'T2'), provide: fc.array(entry, { maxLength: 5 }) }).map((c): ConfigFile => ({
      server: '127.0.0.1:7000',
      token: c.token,
      provide: c.provide.map((e) => ({ name: e.name, secret: e.secret, to: e.to, ...(e.token !== undefined ? { token: e.token } : {}) })),
    }));
    fc.assert(
      fc.property(cfg, cfg, (before, after) => {
        const p = plan(before, after);
        const wanted = resolveEntries(after);
        const running = resolveEntries(before);
        // Running entries: stopped, restarted or kept, once each.
        const fromRunning = [...p.stop.map((e) => e.key), ...p.restart.map((r) => r.before.key), ...p.keep.map((e) => e.key)].sort();
        assert.deepEqual(fromRunning, running.map((e) => e.key).sort());
        // Wanted entries: started, restarted or kept, once each; kept ones unchanged, restarted ones changed.
        const fromWanted = [...p.start.map((e) => e.key), ...p.restart.map((r) => r.after.key), ...p.keep.map((e) => e.key)].sort();
        assert.deepEqual(fromWanted, wanted.map((e) => e.key).sort());
        const wantedByKey = new Map(wanted.map((e) => [e.key, e]));
        for (const k of p.keep) assert.deepEqual(changedFields(k, wantedByKey.get(k.key) ?? k), []);
        for (const r of p.restart) assert.ok(r.fields.length > 0 && changedFields(r.before, r.after).join() === r.fields.join());
      }),
      { numRuns: 300 },
    );
  });
});

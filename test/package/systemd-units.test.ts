/**
 * packaging/systemd: both units pass `systemd-analyze verify` without a
 * single warning, carry the hardening they promise, and their ExecStart
 * command lines work with this CLI (credentials directory and all).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { ProcessGroup, freePort } from '../support/cli.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const SYSTEM_UNITS = '/usr/lib/systemd/system';
const unitsDir = fileURLToPath(new URL('../../../packaging/systemd/', import.meta.url));
const UNITS = ['burrow-rendezvous.service', 'burrow-peer@.service'] as const;

const skip = !existsSync(ANALYZE) ? `${ANALYZE} is not installed (Debian: apt-get install systemd)` : !existsSync(SYSTEM_UNITS) ? `no ${SYSTEM_UNITS} to verify against` : false;

function unitText(name: string): string {
  return readFileSync(join(unitsDir, name), 'utf8');
}

/** Every `Key=value` of a section, in order (a key may repeat). */
function section(text: string, name: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inside = line === `[${name}]`;
    else if (inside && line !== '' && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}

function execStart(text: string): string[] {
  const line = section(text, 'Service').find(([k]) => k === 'ExecStart');
  assert.ok(line, 'no ExecStart');
  return line[1].split(/\s+/);
}

/**
 * A root directory for `systemd-analyze verify --root`: the host's own unit
 * files (verify loads sysinit.target and friends), our units, and an
 * executable where ExecStart points (verify checks that it exists).
 */
function makeRoot(units: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'burrow-systemd-'));
  cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true, verbatimSymlinks: true });
  const etc = join(root, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(join(etc, name), text);
  const bin = execStart(unitText(UNITS[0]))[0] ?? '';
  mkdirSync(join(root, bin, '..'), { recursive: true });
  writeFileSync(join(root, bin), '#!/bin/sh\nexit 0\n');
  chmodSync(join(root, bin), 0o755);
  return root;
}

/** What verify says about a unit: its exit code and every line it printed (a clean unit prints nothing). */
function verify(root: string, unit: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(ANALYZE, ['verify', `--root=${root}`, unit], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, output: (stdout + stderr).trim() });
    });
  });
}

describe('systemd units', { skip, timeout: 120_000 }, () => {
  const roots: string[] = [];
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  const root = (units: Record<string, string>) => {
    const r = makeRoot(units);
    roots.push(r);
    return r;
  };

  it('pass systemd-analyze verify without a warning (the peer template as an instance)', async () => {
    const r = root(Object.fromEntries(UNITS.map((u) => [u, unitText(u)])));
    for (const unit of ['burrow-rendezvous.service', 'burrow-peer@nas.service']) {
      const { code, output } = await verify(r, unit);
      assert.equal(output, '', `${unit}: ${output}`);
      assert.equal(code, 0, unit);
    }
  });

  it('the same check flags a broken unit (a mistyped key, a missing binary)', async () => {
    const text = unitText(UNITS[0]);
    const r = root({ 'typo.service': text.replace('DynamicUser=yes', 'DynamicUsr=yes'), 'nobin.service': text.replace(/^ExecStart=\S+/m, 'ExecStart=/usr/local/bin/not-there') });
    assert.match((await verify(r, 'typo.service')).output, /Unknown key 'DynamicUsr'/);
    assert.notEqual((await verify(r, 'nobin.service')).code, 0);
  });

  it('are hardened: a dynamic user, no privileges, a read-only system, only the address families burrow uses', () => {
    for (const u of UNITS) {
      const service = new Map(section(unitText(u), 'Service'));
      const want: Record<string, string> = {
        DynamicUser: 'yes',
        NoNewPrivileges: 'yes',
        ProtectSystem: 'strict',
        ProtectHome: 'yes',
        PrivateTmp: 'yes',
        CapabilityBoundingSet: '',
        SystemCallFilter: '@system-service',
        RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX AF_NETLINK',
      };
      for (const [k, v] of Object.entries(want)) assert.equal(service.get(k), v, `${u}: ${k}`);
      assert.match(service.get('LoadCredential') ?? '', /^[\w.]+:\/etc\/burrow\//, `${u}: the secret comes from LoadCredential`);
      assert.match(service.get('ExecStart') ?? '', /%d\//, `${u}: ExecStart reads the credential from $CREDENTIALS_DIRECTORY (%d)`);
      // A credential is copied once, at start: a reload would re-read that copy, so `systemctl reload` must not pretend to apply an edit.
      assert.equal(service.get('ExecReload'), undefined, `${u}: no ExecReload (the credential copy is stale after an edit; restart instead)`);
    }
  });
});

describe('the units\' command lines, as systemd would run them', { timeout: 60_000 }, () => {
  const group = new ProcessGroup();
  const creds = mkdtempSync(join(tmpdir(), 'burrow-credentials-'));
  after(async () => {
    await group.killAll();
    rmSync(creds, { recursive: true, force: true });
  });

  /** ExecStart's arguments after the binary, `%d` being the credentials directory and `%i` the instance. */
  function argsOf(unit: string, instance = ''): string[] {
    return execStart(unitText(unit))
      .slice(1)
      .map((a) => a.replaceAll('%d', creds).replaceAll('%i', instance));
  }

  it('start a rendezvous from its token credential and a peer from its config credential', async () => {
    const port = await freePort();
    writeFileSync(join(creds, 'token'), 'unit-test-token\n', { mode: 0o600 });
    // The rendezvous unit's line, on a free loopback port instead of [::]:7000 (the test must not take a real port).
    const rvArgs = argsOf(UNITS[0]);
    const listen = rvArgs.indexOf('--listen');
    assert.ok(listen > 0, 'the rendezvous unit sets --listen');
    rvArgs.splice(listen, 2, '--listen', `127.0.0.1:${port}`);
    const rv = group.spawn('rendezvous', rvArgs, { json: false });
    await rv.waitEvent('listening');
    writeFileSync(
      join(creds, 'burrow.toml'),
      `server = "127.0.0.1:${port}"\ntoken = "unit-test-token"\nportmap = false\n\n[[provide]]\nname = "nas"\nsecret = "s"\nto = "127.0.0.1:9"\nmode = "stcp"\n`,
      { mode: 0o600 },
    );
    const peer = group.spawn('peer', argsOf(UNITS[1], 'nas'), { json: false });
    await peer.waitEvent('registered');
  });
});

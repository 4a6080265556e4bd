/**
 * The cluster settings as a user gives them, checked before anything starts:
 * the rendezvous's flags (a real CLI process: message and exit code) and a
 * config file's [rendezvous] keys (loadConfig, then runConfigFile), which go
 * through the same checks. No Redis needed: every case fails before joining.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, type ConfigFile } from '../../cli/config.js';
import { runConfigFile } from '../../cli/config-run.js';
import { settingsNeedingRestart } from '../../cli/reload-plan.js';
import { isBurrowError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { ProcessGroup } from '../support/cli.js';

const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'burrow-cluster-settings-'));
const quiet = new Logger({ sink: { write: () => {} } });
let n = 0;

after(async () => {
  await group.killAll();
  rmSync(dir, { recursive: true, force: true });
});

function file(text: string, name = `f${n++}`): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

const SECRET_FILE = file('a-cluster-secret-of-32-characters\n', 'secret');
// Port 1 on loopback: nothing answers, and no case here gets as far as connecting.
const REDIS = 'redis://127.0.0.1:1';

/** `burrow rendezvous ARGS` that must fail as a usage error (exit 2) with a message matching `pattern`. */
async function usageError(args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const p = group.spawn('rendezvous', ['rendezvous', '--token', 'cluster-settings-token', '--udp-port', 'off', ...args], { json: false, env: { BURROW_CLUSTER_SECRET: '', ...env } });
  const code = await p.waitExit();
  const stderr = p.stderrText.join('\n');
  assert.equal(code, 2, `exit code for ${args.join(' ')}; stderr: ${stderr}`);
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /a-cluster-secret-of|0123456789abcdef-x/, 'the secret is never echoed');
}

describe('burrow rendezvous: cluster flags', () => {
  it('a cluster flag without --cluster is an error that names both flags', async () => {
    await usageError(['--listen', '127.0.0.1:0', '--node-id', 'rv1'], /--node-id needs --cluster <redis-url>/);
    await usageError(['--listen', '127.0.0.1:0', '--advertise', '127.0.0.1:7000'], /--advertise needs --cluster <redis-url>/);
    await usageError(['--listen', '127.0.0.1:0', '--cluster-secret-file', SECRET_FILE], /--cluster-secret-file needs --cluster <redis-url>/);
  });

  it('a wildcard (or port 0) --listen needs --advertise', async () => {
    const common = ['--cluster', REDIS, '--node-id', 'rv1', '--cluster-secret-file', SECRET_FILE];
    await usageError(['--listen', '0.0.0.0:7000', ...common], /--advertise HOST:PORT is required with --cluster when --listen is 0\.0\.0\.0:7000/);
    await usageError(['--listen', '[::]:7000', ...common], /--advertise HOST:PORT is required/);
    await usageError(['--listen', '127.0.0.1:0', ...common], /--advertise HOST:PORT is required/);
  });

  it('the cluster secret: missing, short (from the environment too) or an unreadable file', async () => {
    const common = ['--listen', '127.0.0.1:7000', '--cluster', REDIS, '--node-id', 'rv1'];
    await usageError(common, /--cluster needs the cluster secret: --cluster-secret-file FILE or BURROW_CLUSTER_SECRET/);
    await usageError([...common, '--cluster-secret', 'short'], /the cluster secret must be at least 16 characters/);
    await usageError(common, /the cluster secret must be at least 16 characters/, { BURROW_CLUSTER_SECRET: 'too-short' });
    await usageError([...common, '--cluster-secret-file', file('tiny\n')], /the cluster secret must be at least 16 characters/);
    await usageError([...common, '--cluster-secret-file', join(dir, 'nope')], /cannot read --cluster-secret-file .*nope: ENOENT/);
  });

  it('a node id that is not 1-63 letters, digits, ".", "_", "-"', async () => {
    await usageError(['--listen', '127.0.0.1:7000', '--cluster', REDIS, '--node-id', 'rv 1', '--cluster-secret-file', SECRET_FILE], /--node-id "rv 1" must be 1-63 letters/);
  });

  it('--help mentions the health endpoint on --metrics', async () => {
    const p = group.spawn('help', ['rendezvous', '--help'], { json: false });
    assert.equal(await p.waitExit(), 0);
    assert.match(p.stdout.replace(/\s+/g, ' '), /GET \/health there answers 200 .* or 503/);
  });
});

/** loadConfig must fail with ERR_CONFIG; returns the message. */
function loadError(p: string): string {
  try {
    loadConfig(p);
  } catch (err) {
    assert.ok(isBurrowError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return err.message;
  }
  assert.fail('loadConfig should have thrown');
}

/** runConfigFile must refuse the file with ERR_CONFIG before starting anything; returns the message. */
async function runError(p: string): Promise<string> {
  const cfg = loadConfig(p);
  try {
    const { parts } = await runConfigFile(cfg, p, quiet, () => {});
    await Promise.all(parts.map((x) => x.stop()));
  } catch (err) {
    assert.ok(isBurrowError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return err.message;
  }
  assert.fail('runConfigFile should have thrown');
}

describe('[rendezvous] cluster keys in a config file', () => {
  it('parse: cluster, node_id, advertise, cluster_secret_file', () => {
    const p = file(`token = "t"
[rendezvous]
listen = "[::]:7000"
cluster = "redis://:pw@10.0.0.5:6379"
node_id = "rv1"
advertise = "rv1.example.com:7000"
cluster_secret_file = "${SECRET_FILE}"
`);
    const r = loadConfig(p).rendezvous;
    assert.deepEqual(
      { cluster: r?.cluster, node_id: r?.node_id, advertise: r?.advertise, cluster_secret_file: r?.cluster_secret_file },
      { cluster: 'redis://:pw@10.0.0.5:6379', node_id: 'rv1', advertise: 'rv1.example.com:7000', cluster_secret_file: SECRET_FILE },
    );
  });

  it('a bad node_id, a bad advertise or a misspelt key is refused when the file is read', () => {
    const base = `token = "t"\n[rendezvous]\nlisten = "127.0.0.1:7000"\ncluster = "${REDIS}"\n`;
    assert.match(loadError(file(`${base}node_id = "rv 1"\n`)), /rendezvous\.node_id: must be 1-63 letters/);
    assert.match(loadError(file(`${base}advertise = "no-port"\n`)), /rendezvous\.advertise/);
    assert.match(loadError(file(`${base}node-id = "rv1"\n`)), /node-id/);
  });

  it('the same checks as the flags, with the keys named as the file spells them, before anything starts', async () => {
    const head = `token = "t"\n[rendezvous]\n`;
    assert.match(await runError(file(`${head}listen = "127.0.0.1:7000"\nnode_id = "rv1"\n`)), /\[rendezvous\] node_id needs cluster <redis-url>/);
    assert.match(
      await runError(file(`${head}listen = "127.0.0.1:7000"\ncluster = "${REDIS}"\nnode_id = "rv1"\ncluster_secret_file = "${join(dir, 'missing')}"\n`)),
      /\[rendezvous\] cannot read cluster_secret_file .*missing: ENOENT/,
    );
    assert.match(await runError(file(`${head}listen = "127.0.0.1:7000"\ncluster = "${REDIS}"\nnode_id = "rv1"\n`)), /cluster needs the cluster secret: cluster_secret_file = "FILE"/);
    assert.match(
      await runError(file(`${head}listen = "0.0.0.0:7000"\ncluster = "${REDIS}"\nnode_id = "rv1"\ncluster_secret_file = "${SECRET_FILE}"\n`)),
      /advertise HOST:PORT is required with cluster when listen is 0\.0\.0\.0:7000/,
    );
    assert.match(
      await runError(file(`${head}listen = "127.0.0.1:7000"\ncluster = "${REDIS}"\nnode_id = "rv1"\ncluster_secret_file = "${file('short\n')}"\n`)),
      /at least 16 characters/,
    );
  });

  it('a reload reports a change of any cluster key as needing a restart, and touches nothing', () => {
    const before: ConfigFile = {
      token: 't',
      rendezvous: { listen: '127.0.0.1:7000', cluster: REDIS, node_id: 'rv1', advertise: '127.0.0.1:7000', cluster_secret_file: SECRET_FILE },
    };
    assert.deepEqual(settingsNeedingRestart(before, structuredClone(before)), []);
    const changes: Partial<NonNullable<ConfigFile['rendezvous']>>[] = [
      { cluster: 'redis://127.0.0.1:2' },
      { node_id: 'rv2' },
      { advertise: '127.0.0.1:7001' },
      { cluster_secret_file: join(dir, 'other') },
      { cluster: undefined, node_id: undefined, advertise: undefined, cluster_secret_file: undefined },
    ];
    for (const change of changes) {
      const after: ConfigFile = { ...before, rendezvous: { listen: '127.0.0.1:7000', ...before.rendezvous, ...change } };
      assert.deepEqual(settingsNeedingRestart(before, after), ['rendezvous'], JSON.stringify(change));
    }
  });
});

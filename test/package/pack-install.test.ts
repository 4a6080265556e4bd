import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Child npm and node processes must not see the `npm test` run's own npm_* settings (its prefix is this project). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return { ...env, BURROW_PORTMAP: 'off' };
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Where `npm ci` fetched the tarballs from, so where the cache knows them by. */
const REGISTRY = 'https://registry.npmjs.org/';

interface LockEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * The app's lockfile: the tarball, and burrow's runtime dependencies at the
 * versions this project's own lockfile pins (the ones `npm ci` put in the
 * npm cache), each with its tarball's URL. That lets npm install from the
 * cached tarballs alone: a bare `npm install --offline burrow.tgz` needs
 * every dependency's *full* registry document (npm 11 resolves ranges with
 * it), and the cache that `npm ci` fills holds only the tarballs and
 * abbreviated documents.
 */
function appLock(tarball: string, integrity: string): unknown {
  const project = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string> };
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { burrow: tarball } },
    'node_modules/burrow': { version: pkg.version, resolved: tarball, integrity, dependencies: pkg.dependencies, bin: pkg.bin },
  };
  for (const [path, entry] of Object.entries(project.packages)) {
    if (!path.startsWith('node_modules/') || entry.dev === true) continue;
    // This project's lockfile leaves out registry URLs; without one npm would ask for the package's registry document.
    const name = path.slice('node_modules/'.length);
    packages[path] = { ...entry, resolved: entry.resolved ?? `${REGISTRY}${name}/-/${name.slice(name.lastIndexOf('/') + 1)}-${entry.version}.tgz` };
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

it('npm pack, then an offline install into an empty folder, whose `burrow demo` succeeds and whose `import "burrow"` works', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'burrow-pack-'));
  try {
    const out = join(tmp, 'pack');
    const app = join(tmp, 'app');
    mkdirSync(out);
    mkdirSync(app);
    // --ignore-scripts: prepack would rebuild dist/ while other test files run from it (`npm test` has just built it).
    const packed = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], root, 120_000)) as Array<{
      filename: string;
      integrity: string;
      files: Array<{ path: string }>;
    }>;
    const meta = packed[0];
    assert.ok(meta, 'npm pack printed no result');
    const files = meta.files.map((f) => f.path);
    for (const f of ['dist/api/index.js', 'dist/api/index.d.ts', 'dist/bin/burrow.js', 'README.md', 'package.json']) assert.ok(files.includes(f), `the tarball lacks ${f}`);
    const stray = files.filter((f) => /^dist\/(test|bench|examples)\//.test(f) || f.endsWith('.map') || !f.startsWith('dist/') && !['README.md', 'package.json'].includes(f));
    assert.deepEqual(stray, [], 'the tarball carries files a user does not need');

    const tarball = `file:../pack/${meta.filename}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { burrow: tarball } }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(appLock(tarball, meta.integrity), null, 2));
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, 120_000);

    const demo = await run(join(app, 'node_modules', '.bin', 'burrow'), ['demo', '--size', '1'], app, 90_000);
    assert.match(demo, /^result: OK$/m);
    assert.match(demo, /sha256 +[0-9a-f]{64} \(matches the NAS copy\)/);

    const api = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('burrow'); console.log([m.startRendezvous, m.startProvider, m.startVisitor].map((f) => typeof f).join(','))"], app, 30_000);
    assert.equal(api.trim(), 'function,function,function');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

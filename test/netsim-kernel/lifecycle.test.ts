/**
 * Kernel lane lifecycle: processes started in a lab die with it, stale
 * leftovers of crashed runs are swept, and an interrupted build (SIGINT or
 * SIGTERM while namespaces are being made) leaves no namespace or process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lab, kernelLabSkipReason, listNamespaces, sweepStale, destroyNamespace, runIdPid } from '../../netsim/kernel/index.js';

const skip = kernelLabSkipReason();

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitDead(pid: number | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

test('spawn captures output and close() kills what it started and deletes every namespace', { skip }, async () => {
  const lab = await Lab.create({ selfCheck: false });
  let sleeper: number | undefined;
  let stund: number | undefined;
  try {
    const site = await lab.addSite('port-restricted-cone', { verify: false });
    const echo = lab.spawn(site.hosts[0]!, 'sh', ['-c', 'echo "$0 from $(ip -4 -o addr show scope global | wc -l) addr"; echo err >&2', 'hello']);
    await echo.exited;
    assert.equal(echo.stdout().trim(), 'hello from 1 addr');
    assert.equal(echo.stderr().trim(), 'err');
    const p = lab.spawn(site.hosts[0]!, 'sleep', ['60']);
    sleeper = p.pid;
    stund = lab.stund.pid;
    assert.ok(alive(sleeper) && alive(stund));
    // `ip netns exec` enters the namespace, then execs: poll (bounded) until it has.
    let pids = '';
    for (let i = 0; i < 100 && !new RegExp(`\\b${sleeper}\\b`).test(pids); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 20));
      pids = spawnSync('ip', ['netns', 'pids', site.hosts[0]!.ns], { encoding: 'utf8' }).stdout;
    }
    assert.match(pids, new RegExp(`\\b${sleeper}\\b`), 'ip netns pids lists the spawned process');
  } finally {
    assert.deepEqual(await lab.close(), []);
  }
  assert.ok(await waitDead(sleeper, 3000), 'the spawned sleep is gone');
  assert.ok(await waitDead(stund, 3000), 'stund is gone');
  assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${lab.runId}-`)), []);
  assert.equal(runIdPid(lab.runId), process.pid, 'the run id encodes the owning pid');
});

test('sweepStale removes leftovers of a dead owner (killing processes inside) and leaves live runs alone', { skip }, async () => {
  // A pid that certainly belonged to a process that is gone now.
  const dead = spawnSync('true').pid;
  assert.ok(dead && !alive(dead));
  const deadNs = `bnk-${dead.toString(36)}zzz-core`;
  const live = await Lab.create({ selfCheck: false });
  let orphan: number | undefined;
  try {
    assert.equal(spawnSync('ip', ['netns', 'add', deadNs]).status, 0);
    const child = spawn('ip', ['netns', 'exec', deadNs, 'sleep', '60'], { stdio: 'ignore', detached: true });
    child.unref();
    orphan = child.pid;
    const r = await sweepStale('bnk');
    assert.ok(r.removed.includes(deadNs), `swept: ${JSON.stringify(r)}`);
    for (const ns of live.namespaces()) assert.ok(r.live.includes(ns) && !r.removed.includes(ns), `live ${ns} left alone`);
    assert.ok(!(await listNamespaces()).includes(deadNs));
    assert.ok(await waitDead(orphan, 3000), 'the process inside the stale namespace was killed');
  } finally {
    if (orphan && alive(orphan)) process.kill(orphan, 'SIGKILL');
    await destroyNamespace(deadNs);
    await live.close();
  }
});

const here = fileURLToPath(import.meta.url);
const childScript = here.replace(/lifecycle\.test\.(ts|js)$/, 'interrupt-child.$1');
const childCmd = here.endsWith('.ts') ? ['--import', 'tsx', childScript] : [childScript];

for (const [signal, after] of [
  ['SIGINT', 'building 0'],
  ['SIGINT', 'building 2'],
  ['SIGTERM', 'building 1'],
] as const) {
  test(`${signal} during a build (${after}) leaves no namespace or process behind`, { skip: skip ?? (!existsSync(childScript) && 'helper script missing') }, async () => {
    const child = spawn(process.execPath, childCmd, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('close', (code, sig) => r({ code, signal: sig })),
    );
    const [step, n] = after.split(' ') as [string, string];
    const deadline = Date.now() + 20_000;
    while (!out.includes(`{"${step}":${n}}`) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(out.includes(`{"${step}":${n}}`), `child reached "${after}"; stdout: ${out} stderr: ${err}`);
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const res = await exited;
    clearTimeout(timer);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const runId = lines.find((l) => l.runId)?.runId as string;
    const pids = lines.flatMap((l) => [l.stund, l.sleeper]).filter((p): p is number => typeof p === 'number');
    assert.ok(runId, `child printed its run id: ${out}`);
    assert.equal(res.signal, signal, `the child died of ${signal} after tearing down (stderr: ${err})`);
    assert.ok(!lines.some((l) => l.done), 'the build was interrupted, not finished');
    const left = (await listNamespaces()).filter((ns) => ns.includes(`-${runId}-`));
    // Clean up for the next run before failing, so one failure does not cascade.
    for (const ns of left) await destroyNamespace(ns);
    assert.deepEqual(left, [], 'no namespace of the interrupted run is left');
    for (const p of pids) assert.ok(await waitDead(p, 3000), `process ${p} started in the lab is gone`);
  });
}

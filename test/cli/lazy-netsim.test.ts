/**
 * The NAT lab (netsim/) is loaded only by `burrow netsim`: the other commands
 * start without reading a single netsim/ module. Each case runs the built CLI
 * with a preload that records every module URL the process loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CLI = fileURLToPath(new URL(`../../bin/burrow${ext}`, import.meta.url));
const RECORDER = fileURLToPath(new URL(`../support/record-loads${ext}`, import.meta.url));
/** This tree's root (dist/ when built): the loaded URLs are compared below it. */
const ROOT = new URL('../../', import.meta.url).href;

/** Runs `burrow ...args` (bounded) and returns its exit status and this tree's modules it loaded, relative to the root. */
function loadsOf(args: string[]): Promise<{ code: number | null; out: string; ours: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-loads-'));
  const logFile = join(dir, 'loads.txt');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...process.execArgv.filter((a) => a.startsWith('--import=') || a.startsWith('--require=')), `--import=${RECORDER}`, CLI, ...args],
      { timeout: 30_000, env: { ...process.env, BURROW_LOAD_LOG: logFile } },
      (error, stdout) => {
        let text = '';
        try {
          text = readFileSync(logFile, 'utf8');
        } catch {
          // nothing recorded: the assertions below say so
        }
        rmSync(dir, { recursive: true, force: true });
        const ours = text
          .split('\n')
          .filter((u) => u.startsWith(ROOT) && !u.includes('/node_modules/'))
          .map((u) => u.slice(ROOT.length));
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, out: stdout, ours });
      },
    );
  });
}

const cases: string[][] = [['--help'], ['visit', '--help'], ['provide', '--help'], ['rendezvous', '--help'], ['nat', '--help'], ['demo', '--help']];
for (const args of cases) {
  test(`burrow ${args.join(' ')} loads no netsim/ module`, async () => {
    const r = await loadsOf(args);
    assert.equal(r.code, 0);
    // The recorder works: the CLI's own modules are in the list.
    assert.ok(r.ours.some((p) => p.startsWith('cli/program')), `recorded: ${r.ours.join(', ')}`);
    assert.deepEqual(
      r.ours.filter((p) => p.startsWith('netsim/')),
      [],
    );
  });
}

test('burrow netsim --help loads the lab and shows its profiles', async () => {
  const r = await loadsOf(['netsim', '--help']);
  assert.equal(r.code, 0);
  assert.ok(r.ours.some((p) => p.startsWith('netsim/kernel/')), `recorded: ${r.ours.join(', ')}`);
  assert.match(r.out, /NAT profiles:/);
  assert.match(r.out, /port-restricted-cone/);
});

test('burrow netsim matrix --help is the matrix command\'s help', async () => {
  const r = await loadsOf(['netsim', 'matrix', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: burrow netsim matrix/);
  assert.match(r.out, /--lane <lane>/);
});

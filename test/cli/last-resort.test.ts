/**
 * The CLI's last line of defence: an error nothing else caught (a promise
 * rejected with no handler, an exception thrown from a callback) is logged
 * through the logger, in the chosen format, and the process exits non-zero
 * at once instead of dying with a bare stack trace (or running on broken).
 *
 * The fault is injected from outside the product code: a module preloaded
 * with NODE_OPTIONS=--import schedules it inside the real `burrow` process.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup } from '../support/cli.js';

const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'burrow-last-resort-'));

after(async () => {
  await group.killAll();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A preload that waits for the CLI's 'listening' log line (the CLI is up and
 * running), then commits `fault` from a timer callback: nothing of burrow's
 * is on the stack to catch it.
 */
function preload(name: string, fault: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `const write = process.stderr.write.bind(process.stderr);
let armed = false;
process.stderr.write = (chunk, ...rest) => {
  const r = write(chunk, ...rest);
  if (!armed && String(chunk).includes('listening')) {
    armed = true;
    setTimeout(() => { ${fault} }, 50);
  }
  return r;
};
`,
  );
  return file;
}

const cases = [
  { kind: 'unhandled-rejection', fault: "Promise.reject(new Error('injected rejection'));", message: 'injected rejection' },
  { kind: 'uncaught-exception', fault: "throw new Error('injected exception');", message: 'injected exception' },
];

for (const c of cases) {
  test(`${c.kind}: logged as JSON through the logger, exit status 70`, { timeout: 20_000 }, async () => {
    const p = group.spawn(c.kind, ['rendezvous', '--listen', '127.0.0.1:0', '--udp-port', 'off', '--token', 't'], {
      env: { NODE_OPTIONS: `--import ${preload(c.kind, c.fault)}` },
    });
    assert.equal(await p.waitExit(15_000), 70, `exit status (stderr: ${p.stderrText.join('\n')})`);
    assert.ok(p.events.some((ev) => ev.event === 'listening'), 'the CLI was up when the fault came');
    const e = p.events.find((ev) => ev.event === 'internal-error');
    assert.ok(e, `an internal-error log line; stderr:\n${p.stderrText.join('\n')}`);
    assert.equal(e.level, 'error');
    assert.equal(e['kind'], c.kind);
    assert.equal(e['error'], c.message);
    assert.match(String(e['stack']), new RegExp(c.message));
  });
}

test('text logs (the default format) get the same line in text', { timeout: 20_000 }, async () => {
  const p = group.spawn('text', ['rendezvous', '--listen', '127.0.0.1:0', '--udp-port', 'off', '--token', 't'], {
    json: false,
    env: { NODE_OPTIONS: `--import ${preload('text', "Promise.reject(new Error('injected rejection'));")}` },
  });
  assert.equal(await p.waitExit(15_000), 70);
  const line = p.stderrText.find((l) => / internal-error /.test(l));
  assert.ok(line, `a text internal-error line; stderr:\n${p.stderrText.join('\n')}`);
  assert.match(line, /ERROR/);
  assert.match(line, /kind=unhandled-rejection/);
});

/** `--no-portmap` on provide and visit: offered, explained in --help, and on by default. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../cli/program.js';

test('provide and visit take --no-portmap, default on, and --help says what it turns off', () => {
  const program = buildProgram(() => {});
  for (const name of ['provide', 'visit']) {
    const cmd = program.commands.find((c) => c.name() === name);
    assert.ok(cmd, name);
    const opt = cmd.options.find((o) => o.long === '--no-portmap');
    assert.ok(opt, `${name} has --no-portmap`);
    assert.equal(opt.negate, true);
    assert.match(opt.description, /home router \(NAT-PMP, PCP, UPnP IGD\)/);
    assert.match(opt.description, /another NAT/);
    assert.match(cmd.helpInformation(), /--no-portmap/);
    // Parsing without the flag leaves it on; with it, off.
    cmd.exitOverride();
  }
  const provide = program.commands.find((c) => c.name() === 'provide')!;
  provide.action(() => {});
  provide.parse(['node', 'provide', '--name', 'n', '--to', '1'], { from: 'node' });
  assert.equal(provide.opts()['portmap'], true);
  provide.parse(['node', 'provide', '--name', 'n', '--to', '1', '--no-portmap'], { from: 'node' });
  assert.equal(provide.opts()['portmap'], false);
});

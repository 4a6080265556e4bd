import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { portmapAllowed } from '../../cli/portmap-switch.js';
import { isBurrowError } from '../../src/errors.js';
import { ProcessGroup } from '../support/cli.js';

describe('BURROW_PORTMAP', () => {
  it('leaves the request as it is when unset, empty or "on"', () => {
    for (const env of [{}, { BURROW_PORTMAP: '' }, { BURROW_PORTMAP: 'on' }]) {
      assert.equal(portmapAllowed(true, env), true);
      assert.equal(portmapAllowed(false, env), false);
    }
  });

  it('"off" turns port mapping off whatever was asked', () => {
    assert.equal(portmapAllowed(true, { BURROW_PORTMAP: 'off' }), false);
    assert.equal(portmapAllowed(false, { BURROW_PORTMAP: 'off' }), false);
  });

  it('anything else is refused with a message naming the variable', () => {
    assert.throws(
      () => portmapAllowed(true, { BURROW_PORTMAP: 'no' }),
      (err: unknown) => isBurrowError(err, 'ERR_INVALID_ARGUMENT') && /BURROW_PORTMAP must be "on" or "off", got "no"/.test(err.message),
    );
  });

  it('the CLI refuses a bad value before it connects anywhere', async () => {
    const group = new ProcessGroup();
    try {
      const p = group.spawn(
        'visit',
        ['visit', '--server', '127.0.0.1:1', '--token', 't', '--name', 'n', '--secret', 's', '--listen', '127.0.0.1:0'],
        { json: false, env: { BURROW_PORTMAP: 'maybe' } },
      );
      const code = await p.waitExit(15_000);
      assert.notEqual(code, 0);
      assert.match(p.stderrText.join('\n'), /BURROW_PORTMAP must be "on" or "off", got "maybe"/);
    } finally {
      await group.killAll();
    }
  });
});

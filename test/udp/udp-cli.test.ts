/**
 * UDP services from the command line: `--proto udp` (and the TOML's
 * `proto = "udp"`) in real CLI processes on loopback, and the flags'
 * and fields' checks.
 */
import { udp } from '../support/udp.js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../cli/config.js';
import { isBurrowError } from '../../src/errors.js';
import { ProcessGroup, freePort, startLab } from '../support/cli.js';

const group = new ProcessGroup();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burrow-udp-cli-'));
after(async () => {
  await group.killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});


/** Sends until an answer comes (the session may still be setting up), at most `ms`. */
async function ask(port: number, text: string, ms = 15_000): Promise<string> {
  const c = await udp();
  try {
    const reply = new Promise<string>((resolve) => c.once('message', (m) => resolve(m.toString())));
    const deadline = Date.now() + ms;
    let answer: string | null = null;
    void reply.then((r) => (answer = r));
    while (answer === null && Date.now() < deadline) {
      c.send(text, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(answer !== null, `no answer through the tunnel within ${ms} ms`);
    return answer;
  } finally {
    c.close();
  }
}

function toml(text: string): string {
  const p = path.join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
  fs.writeFileSync(p, text);
  return p;
}

describe('burrow provide/visit --proto udp (CLI processes)', { timeout: 60_000 }, () => {
  it('carries a UDP echo through provide --proto udp and a visit from a TOML file with proto = "udp"; the flow closes with its counts', async () => {
    const echo = await udp((s, m, r) => s.send(Buffer.concat([Buffer.from('echo '), m]), r.port, r.address));
    try {
      const lab = await startLab(group, { peerArgs: ['--mode', 'stcp'] });
      const target = (echo.address() as AddressInfo).port;
      const provider = await lab.provide('dns', 's3cret', target, ['--proto', 'udp', '--udp-flows', '8', '--udp-idle', '30']);
      assert.equal(provider.events.find((e) => e.event === 'provider-started')?.['proto'], 'udp');
      const port = await freePort();
      const cfg = toml(`
server = "127.0.0.1:${lab.rvPort}"
token = "${lab.token}"
admin = "off"
log_format = "json"

[[visit]]
name = "dns"
secret = "s3cret"
listen = "127.0.0.1:${port}"
mode = "stcp"
proto = "udp"
udp_idle = 0.5
udp_flows = 4
`);
      const visitor = group.spawn('visitor (toml)', ['-c', cfg], { json: false });
      await visitor.waitEvent('listening');
      assert.equal(visitor.events.find((e) => e.event === 'listening')?.['proto'], 'udp');
      assert.equal(await ask(port, 'what is my name'), 'echo what is my name');
      // udp_idle = 0.5: the visitor's flow ends soon, and says what it carried.
      const closed = await visitor.waitFor((e) => e.event === 'udp-flow-closed' && e['why'] === 'idle', 'the flow to idle out', 5_000);
      assert.ok(Number(closed['datagramsSent']) >= 1 && Number(closed['datagramsReceived']) >= 1, JSON.stringify(closed));
    } finally {
      echo.close();
    }
  });

  it('a UDP visitor of a TCP service stops with a clear error', async () => {
    const lab = await startLab(group, { peerArgs: ['--mode', 'stcp'] });
    await lab.provide('web', 's', 9);
    const v = await lab.visit('web', 's', ['--proto', 'udp']);
    const err = await v.proc.waitFor((e) => e.level === 'error', 'the error');
    assert.match(String(err['error']), /"web" is a TCP service and the visitor asked for UDP/);
    assert.notEqual(await v.proc.waitExit(), 0);
  });

  it('refuses flags that cannot work, saying why', async () => {
    for (const [args, says] of [
      [['--udp-idle', '5'], /--udp-idle and --udp-flows are for --proto udp/],
      [['--proto', 'udp', '--udp-flows', '0'], /--udp-flows must be an integer 1-65536/],
      [['--proto', 'udp', '--udp-idle', 'soon'], /--udp-idle must be/],
      [['--proto', 'sctp'], /--proto.*sctp/],
    ] as const) {
      const p = group.spawn('visitor', ['visit', '--server', '127.0.0.1:1', '--token', 't', '--name', 'x', '--secret', 's', '--listen', '127.0.0.1:0', ...args], { json: false });
      assert.equal(await p.waitExit(), 2, p.stderrText.join('\n'));
      assert.match(p.stderrText.join('\n'), says);
    }
  });
});

describe('loadConfig: proto, udp_idle, udp_flows', () => {
  const base = 'server = "h:1"\ntoken = "t"\n';
  it('takes proto = "udp" with its flow settings in [[provide]] and [[visit]]', () => {
    const cfg = loadConfig(toml(`${base}[[provide]]\nname = "wg"\nsecret = "s"\nto = "127.0.0.1:51820"\nproto = "udp"\nudp_idle = 120\nudp_flows = 16\n[[visit]]\nname = "wg"\nsecret = "s"\nlisten = "127.0.0.1:51821"\nproto = "udp"\n`));
    assert.deepEqual(cfg.provide?.[0] && { proto: cfg.provide[0].proto, idle: cfg.provide[0].udp_idle, flows: cfg.provide[0].udp_flows }, { proto: 'udp', idle: 120, flows: 16 });
    assert.equal(cfg.visit?.[0]?.proto, 'udp');
  });

  it('refuses an unknown proto, an out-of-range setting, and UDP settings on a TCP entry', () => {
    const cases: [string, RegExp][] = [
      ['proto = "sctp"', /proto must be "tcp".*or "udp"/],
      ['proto = "udp"\nudp_flows = 0', /udp_flows/],
      ['proto = "udp"\nudp_idle = 0.01', /udp idle must be at least 0.1 s/],
      ['udp_idle = 10', /udp_idle and udp_flows are for proto = "udp" \(in wg\)/],
    ];
    for (const [extra, says] of cases) {
      let caught: unknown;
      try {
        loadConfig(toml(`${base}[[visit]]\nname = "wg"\nsecret = "s"\nlisten = "127.0.0.1:1"\n${extra}\n`));
      } catch (err) {
        caught = err;
      }
      assert.ok(isBurrowError(caught, 'ERR_CONFIG'), `${extra}: ${String(caught)}`);
      assert.match(caught.message, says);
    }
  });
});

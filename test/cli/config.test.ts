import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../cli/config.js';
import { isBurrowError } from '../../src/errors.js';

let dir = '';
let n = 0;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burrow-config-test-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const p = path.join(dir, `c${n++}.toml`);
  fs.writeFileSync(p, text);
  return p;
}

/** Asserts loadConfig throws ERR_CONFIG and returns the message. */
function configError(p: string, ...patterns: RegExp[]): string {
  let caught: unknown;
  try {
    loadConfig(p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, 'loadConfig should have thrown');
  assert.ok(isBurrowError(caught, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(caught)}`);
  for (const re of patterns) assert.match(caught.message, re);
  return caught.message;
}

describe('loadConfig: valid files', () => {
  it('parses server/token and several [[provide]] and [[visit]] entries', () => {
    const p = file(`
server = "rv.example.com:7000"
token = "t0k3n"
log_format = "json"
log_level = "debug"

[[provide]]
name = "nas"
secret = "s1"
to = "192.168.1.10:5000"

[[provide]]
name = "web"
secret = "s2"
to = "127.0.0.1:8080"
mode = "stcp"

[[visit]]
name = "nas"
secret = "s1"
listen = "127.0.0.1:5000"

[[visit]]
name = "db.main"
secret = "s3"
listen = "[::1]:5432"
`);
    const cfg = loadConfig(p);
    assert.deepEqual(cfg, {
      server: 'rv.example.com:7000',
      token: 't0k3n',
      log_format: 'json',
      log_level: 'debug',
      provide: [
        { name: 'nas', secret: 's1', to: '192.168.1.10:5000' },
        { name: 'web', secret: 's2', to: '127.0.0.1:8080', mode: 'stcp' },
      ],
      visit: [
        { name: 'nas', secret: 's1', listen: '127.0.0.1:5000' },
        { name: 'db.main', secret: 's3', listen: '[::1]:5432' },
      ],
    });
  });

  it('accepts per-entry server and token instead of (or overriding) the top-level ones', () => {
    const p = file(`
server = "a.example:7000"

[[provide]]
name = "nas"
secret = "s"
to = "10.0.0.2:22"
token = "own-token"

[[visit]]
name = "other"
secret = "s"
listen = ":2222"
server = "b.example:7001"
token = "t2"
`);
    const cfg = loadConfig(p);
    assert.equal(cfg.provide![0]!.token, 'own-token');
    assert.equal(cfg.provide![0]!.server, undefined);
    assert.equal(cfg.visit![0]!.server, 'b.example:7001');
    assert.equal(cfg.visit![0]!.token, 't2');
  });

  it('accepts a [rendezvous] table alone, with its own or the top-level token', () => {
    assert.deepEqual(loadConfig(file('[rendezvous]\nlisten = "0.0.0.0:7000"\ntoken = "x"\n')), {
      rendezvous: { listen: '0.0.0.0:7000', token: 'x' },
    });
    assert.deepEqual(loadConfig(file('token = "x"\n[rendezvous]\nlisten = ":7000"\n')), {
      token: 'x',
      rendezvous: { listen: ':7000' },
    });
  });
});

describe('loadConfig: errors are ERR_CONFIG with a useful message', () => {
  it('accepts the direct-path keys: mode, relay, the rendezvous\'s udp_port and alt_address', () => {
    const cfg = loadConfig(
      file(
        'server = "x:1"\ntoken = "t"\n[rendezvous]\nlisten = "198.51.100.2:7000"\nudp_port = "off"\nalt_address = "198.51.100.3"\n' +
          '[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\nmode="xtcp"\nrelay="never"\n[[provide]]\nname="b"\nsecret="s"\nto=":2"\nmode="stcp"\n',
      ),
    );
    assert.equal(cfg.rendezvous?.udp_port, 'off');
    assert.equal(cfg.rendezvous?.alt_address, '198.51.100.3');
    assert.equal(cfg.visit?.[0]?.relay, 'never');
    assert.equal(cfg.provide?.[0]?.mode, 'stcp');
    configError(file('server = "x:1"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\nrelay="sometimes"\n'), /visit\.0\.relay/);
  });

  it('portmap: a boolean at the top or per service; anything else is named', () => {
    const cfg = loadConfig(
      file('server = "x:1"\ntoken = "t"\nportmap = false\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\nportmap = true\n[[provide]]\nname="b"\nsecret="s"\nto=":2"\n'),
    );
    assert.equal(cfg.portmap, false);
    assert.equal(cfg.visit?.[0]?.portmap, true);
    assert.equal(cfg.provide?.[0]?.portmap, undefined);
    configError(file('server = "x:1"\ntoken = "t"\nportmap = "no"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\n'), /portmap/);
    configError(file('server = "x:1"\ntoken = "t"\n[[provide]]\nname="b"\nsecret="s"\nto=":2"\nportmap = 0\n'), /provide\.0\.portmap/);
  });

  it('an unknown top-level key is named', () => {
    configError(file('sever = "x:1"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\n'), /Unrecognized key/, /sever/);
  });

  it('an unknown key inside an entry is named with its path', () => {
    const msg = configError(
      file('server = "x:1"\ntoken = "t"\n[[provide]]\nname="a"\nsecret="s"\nto=":1"\n[[provide]]\nname="b"\nsecret="s"\nto=":2"\nport=22\n'),
      /provide\.1/,
      /port/,
    );
    assert.doesNotMatch(msg, /provide\.0/);
    configError(file('token = "t"\n[rendezvous]\nlisten=":1"\nrate=5\n'), /rendezvous/, /rate/);
  });

  it('a missing server says which entry lacks it', () => {
    configError(file('token = "t"\n[[visit]]\nname="nas"\nsecret="s"\nlisten=":1"\n'), /missing "server" for nas/);
  });

  it('a missing token says which entry lacks it', () => {
    const msg = configError(
      file('server = "x:1"\n[[provide]]\nname="a"\nsecret="s"\nto=":1"\ntoken="mine"\n[[visit]]\nname="b"\nsecret="s"\nlisten=":2"\n'),
      /"token" for b/,
    );
    assert.doesNotMatch(msg, /for a\b/, 'entry "a" has its own token');
    configError(file('[rendezvous]\nlisten=":7000"\n'), /"token" for \[rendezvous\]/);
  });

  it('lists every missing piece', () => {
    configError(file('[[provide]]\nname="p1"\nsecret="s"\nto=":1"\n'), /"server" for p1/, /"token" for p1/);
  });

  it('an unknown mode names the two modes', () => {
    const msg = configError(
      file('server = "x:1"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\nmode="p2p"\n'),
      /visit\.0\.mode/,
    );
    assert.match(msg, /xtcp.*stcp/);
  });

  it('several rendezvous nodes in "server": loaded as written; a bad entry is named', () => {
    const ok = loadConfig(file('server = "a:7000, b:7001"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\n'));
    assert.equal(ok.server, 'a:7000, b:7001');
    configError(file('server = "a:7000,b:99999"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\n'), /server: "b:99999": port must be 0-65535/);
  });

  it('invalid TOML is "not valid TOML"', () => {
    configError(file('server = "unterminated\n'), /not valid TOML/);
    configError(file('[[provide]\nname = "x"\n'), /not valid TOML/);
  });

  it('a nonexistent file is "cannot read"', () => {
    configError(path.join(dir, 'does-not-exist.toml'), /cannot read/, /ENOENT/);
  });

  it('a directory is "cannot read"', () => {
    configError(dir, /cannot read/);
  });

  it('a file with nothing to run is refused', () => {
    configError(file(''), /runs nothing/);
    configError(file('server = "x:1"\ntoken = "t"\n'), /runs nothing/);
    configError(file('server = "x:1"\ntoken = "t"\nprovide = []\nvisit = []\n'), /runs nothing/);
  });

  it('field values are checked: names, secrets, host:port, log settings', () => {
    const entry = (extra: string) => file(`server = "x:1"\ntoken = "t"\n[[provide]]\n${extra}\n`);
    configError(entry('name="my nas"\nsecret="s"\nto=":1"'), /provide\.0\.name/);
    configError(entry('name=".nas"\nsecret="s"\nto=":1"'), /provide\.0\.name/);
    configError(entry('name="nas"\nsecret=""\nto=":1"'), /provide\.0\.secret/);
    configError(entry('name="nas"\nsecret="s"\nto="10.0.0.1"'), /provide\.0\.to/, /HOST:PORT/);
    configError(entry('name="nas"\nsecret="s"\nto=5000'), /provide\.0\.to/);
    configError(file('server = "x"\ntoken = "t"\n[rendezvous]\nlisten=":1"\n'), /server/);
    configError(file('log_format = "xml"\ntoken="t"\n[rendezvous]\nlisten=":1"\n'), /log_format/);
    configError(file('log_level = "trace"\ntoken="t"\n[rendezvous]\nlisten=":1"\n'), /log_level/);
  });

  it('a port above 65535 is refused by the config check (not later as a "--server" flag error)', () => {
    configError(file('server = "x:99999"\ntoken = "t"\n[[visit]]\nname="a"\nsecret="s"\nlisten=":1"\n'), /server/, /port must be 0-65535/);
    configError(file('server = "x:1"\ntoken = "t"\n[[provide]]\nname="a"\nsecret="s"\nto="127.0.0.1:65536"\n'), /provide\.0\.to/);
    // 65535 itself is fine
    assert.equal(loadConfig(file('token = "t"\n[rendezvous]\nlisten="[::]:65535"\n')).rendezvous!.listen, '[::]:65535');
  });
});

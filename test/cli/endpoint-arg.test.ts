import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatHostPort, parseHostPort } from '../../peer/endpoint-arg.js';
import { isBurrowError } from '../../src/errors.js';

function refused(text: string, what = '--server'): string {
  let caught: unknown;
  try {
    parseHostPort(text, what);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `"${text}" should be refused`);
  assert.ok(isBurrowError(caught, 'ERR_INVALID_ARGUMENT'), `expected ERR_INVALID_ARGUMENT, got ${String(caught)}`);
  assert.ok(caught.message.includes(what), `message names the flag: ${caught.message}`);
  assert.ok(caught.message.includes(JSON.stringify(text)), `message quotes the input: ${caught.message}`);
  return caught.message;
}

describe('parseHostPort', () => {
  it('parses IPv4, names, bracketed IPv6 and a bare port', () => {
    assert.deepEqual(parseHostPort('1.2.3.4:80', '--to'), { host: '1.2.3.4', port: 80 });
    assert.deepEqual(parseHostPort('rv.example.com:7000', '--server'), { host: 'rv.example.com', port: 7000 });
    assert.deepEqual(parseHostPort('[::1]:80', '--listen'), { host: '::1', port: 80 });
    assert.deepEqual(parseHostPort('[fe80::1%eth0]:22', '--to'), { host: 'fe80::1%eth0', port: 22 });
    assert.deepEqual(parseHostPort('host:0', '--listen'), { host: 'host', port: 0 });
    assert.deepEqual(parseHostPort('host:65535', '--listen'), { host: 'host', port: 65535 });
  });

  it('":port" means the default host (0.0.0.0 unless given)', () => {
    assert.deepEqual(parseHostPort(':80', '--listen'), { host: '0.0.0.0', port: 80 });
    assert.deepEqual(parseHostPort(':5000', '--to', '127.0.0.1'), { host: '127.0.0.1', port: 5000 });
  });

  it('tolerates surrounding whitespace', () => {
    assert.deepEqual(parseHostPort('  1.2.3.4:80\n', '--to'), { host: '1.2.3.4', port: 80 });
  });

  it('refuses malformed input with ERR_INVALID_ARGUMENT naming the flag', () => {
    for (const bad of ['abc', '1.2.3.4:99999', '1.2.3.4:65536', 'host:', '', ':', '80', 'host:80:90', '::1:80', '[::1]', '[::1]80', 'host:-1', 'host:8o', 'host:123456']) {
      refused(bad, '--server');
    }
    assert.match(refused('abc', '--listen'), /^--listen must look like HOST:PORT/);
  });

  it('bracketed IPv6: full, compressed, IPv4-embedded and the wildcard; clear errors otherwise', () => {
    assert.deepEqual(parseHostPort('[::]:7000', '--listen'), { host: '::', port: 7000 });
    assert.deepEqual(parseHostPort('[2001:db8:0:0:0:0:0:1]:443', '--server'), { host: '2001:db8:0:0:0:0:0:1', port: 443 });
    assert.deepEqual(parseHostPort('[::ffff:192.0.2.1]:7000', '--server'), { host: '::ffff:192.0.2.1', port: 7000 });
    assert.match(refused('::1:7000'), /IPv6 address needs brackets/);
    assert.match(refused('2001:db8::1:7000'), /IPv6 address needs brackets/);
    assert.match(refused('[1.2.3.4]:80'), /brackets are for IPv6 addresses, and "1\.2\.3\.4" is not one/);
    assert.match(refused('[rv.example.com]:80'), /brackets are for IPv6/);
    assert.match(refused('[]:80'), /brackets are for IPv6/);
    assert.match(refused('[::1]:70000'), /port must be 0-65535/);
    for (const bad of ['[::1', '::1]:80', '[[::1]]:80', 'a[b]:80']) refused(bad);
  });

  it('property: formatHostPort and parseHostPort round-trip', () => {
    const v4 = fc.ipV4();
    const v6 = fc.ipV6();
    fc.assert(
      fc.property(fc.oneof(v4, v6, fc.domain()), fc.integer({ min: 0, max: 65535 }), (host, port) => {
        assert.deepEqual(parseHostPort(formatHostPort({ host, port }), '--to'), { host, port });
      }),
      { numRuns: 300 },
    );
  });

  it('property: every port above 65535 is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 65536, max: 99999 }), (port) => {
        refused(`127.0.0.1:${port}`, '--to');
      }),
    );
  });
});

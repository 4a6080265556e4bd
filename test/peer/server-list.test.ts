import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SERVERS, ServerRotation, parseServerList } from '../../peer/server-list.js';
import { isBurrowError } from '../../src/errors.js';
import { toServerList } from '../../api/options.js';

test('a server list: one address, several with spaces, IPv6 in brackets, repeats dropped, order kept', () => {
  assert.deepEqual(parseServerList('rv.example.com:7000', '--server'), [{ host: 'rv.example.com', port: 7000 }]);
  assert.deepEqual(parseServerList(' a:7000 , [2001:db8::1]:7001,a:7000,b:7000 ', '--server'), [
    { host: 'a', port: 7000 },
    { host: '2001:db8::1', port: 7001 },
    { host: 'b', port: 7000 },
  ]);
});

test('a bad server list is refused, naming the option and the entry', () => {
  const refuses = (text: string, re: RegExp) =>
    assert.throws(() => parseServerList(text, '--server'), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT') && re.test((e as Error).message));
  refuses('', /--server is empty/);
  refuses(' , ', /--server is empty/);
  refuses('a:7000,nope', /--server must look like HOST:PORT.*"nope"/);
  refuses(Array.from({ length: MAX_SERVERS + 1 }, (_, i) => `h${i}:1`).join(','), /at most 16/);
});

test('the API takes a list as a string, an array or one endpoint, and names a bad entry', () => {
  assert.deepEqual(toServerList('f', 'server', 'a:1,b:2'), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
  assert.deepEqual(toServerList('f', 'server', ['a:1', { host: 'b', port: 2 }, 'a:1']), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
  assert.deepEqual(toServerList('f', 'server', { host: 'c', port: 3 }), [{ host: 'c', port: 3 }]);
  assert.throws(() => toServerList('f', 'server', ['a:1', '[nope]:2']), (e: unknown) => isBurrowError(e, 'ERR_CONFIG') && /option "server\.1"/.test((e as Error).message));
});

test('rotation: a failure moves to the next server at once; only a whole round of failures backs off', () => {
  const r = new ServerRotation([{ host: 'a', port: 1 }, { host: 'b', port: 1 }, { host: 'c', port: 1 }]);
  assert.equal(r.current.host, 'a');
  assert.equal(r.failed(), 'try-next');
  assert.equal(r.current.host, 'b');
  assert.equal(r.failed(), 'try-next');
  assert.equal(r.current.host, 'c');
  assert.equal(r.failed(), 'back-off');
  assert.equal(r.current.host, 'a', 'round again from the start');
  // A login at a resets the round: when a is lost later, b is tried at once.
  r.succeeded();
  assert.equal(r.failed(), 'try-next');
  assert.equal(r.current.host, 'b');
  r.succeeded();
  assert.equal(r.failed(), 'try-next');
  assert.equal(r.failed(), 'try-next');
  assert.equal(r.current.host, 'a', 'c, then a: every other server tried at once');
  assert.equal(r.failed(), 'back-off');
  assert.equal(r.current.host, 'b', 'then b again, after a backoff');
});

test('rotation with one server always backs off (the behaviour of a single --server)', () => {
  const r = new ServerRotation([{ host: 'a', port: 1 }]);
  for (let i = 0; i < 3; i++) {
    assert.equal(r.failed(), 'back-off');
    assert.equal(r.current.host, 'a');
  }
  r.succeeded();
  assert.equal(r.failed(), 'back-off');
  assert.throws(() => new ServerRotation([]), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
});

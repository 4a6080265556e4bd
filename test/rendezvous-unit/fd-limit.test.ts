import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FALLBACK_CONNECTION_CAP, FD_RESERVE, MAX_CONNECTION_CAP, connectionCapFromLimit, parseOpenFilesLimit } from '../../rendezvous/fd-limit.js';
import { DEFAULT_RENDEZVOUS_LIMITS } from '../../rendezvous/limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the soft open-files limit is read from /proc/self/limits text; unlimited or garbage gives null', () => {
  assert.equal(parseOpenFilesLimit(LIMITS), 20000);
  assert.equal(parseOpenFilesLimit(LIMITS.replace('20000  ', 'unlimited')), null);
  assert.equal(parseOpenFilesLimit('nothing here'), null);
  assert.equal(parseOpenFilesLimit(''), null);
});

test('the connection cap is the descriptor limit less a reserve, within sane bounds', () => {
  assert.equal(connectionCapFromLimit(20000), 20000 - FD_RESERVE);
  assert.equal(connectionCapFromLimit(1024), 1024 - FD_RESERVE);
  assert.equal(connectionCapFromLimit(300), 256, 'a tiny limit still lets a few peers in');
  assert.equal(connectionCapFromLimit(10_000_000), MAX_CONNECTION_CAP);
  assert.equal(connectionCapFromLimit(null), FALLBACK_CONNECTION_CAP);
});

test('the default limits use this process\'s descriptor limit (Node raises the soft limit to the hard one)', () => {
  const own = parseOpenFilesLimit(readLimits());
  assert.equal(DEFAULT_RENDEZVOUS_LIMITS.maxConnections, connectionCapFromLimit(own));
});

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

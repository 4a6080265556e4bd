import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseClientMessage, parseServerMessage, type Parsed } from '../../src/control/messages.js';
import { CONTROL_ERROR_CODES, ControlErrorCode } from '../../src/control/error-codes.js';

const b64 = (n: number, fill = 0xab) => Buffer.alloc(n, fill).toString('base64');
const NONCE = b64(32, 1);
const PROOF = b64(32, 2);
const TICKET = b64(32, 3);
const HELLO = b64(65, 4);
const CONN = '0123456789abcdef0123456789abcdef';

const validClient: Record<string, Record<string, unknown>> = {
  login: { type: 'login', role: 'provider', nonce: NONCE, proof: PROOF, name: 'home-nas' },
  'login (visitor, no name)': { type: 'login', role: 'visitor', nonce: NONCE, proof: PROOF },
  'relay-join': { type: 'relay-join', connId: CONN, ticket: TICKET },
  register: { type: 'register', services: ['nas', 'web.1', 'a_b-c'] },
  connect: { type: 'connect', connId: CONN, service: 'nas', hello: HELLO },
  accept: { type: 'accept', connId: CONN, reply: HELLO },
  refuse: { type: 'refuse', connId: CONN, code: 'SECRET_MISMATCH', message: 'no' },
  confirm: { type: 'confirm', connId: CONN, confirm: HELLO },
  ping: { type: 'ping', t: 12345 },
  pong: { type: 'pong', t: -1.5 },
};

const validServer: Record<string, Record<string, unknown>> = {
  challenge: { type: 'challenge', nonce: NONCE, server: 'burrow-rendezvous' },
  welcome: { type: 'welcome', proof: PROOF, peerId: 'p1' },
  error: { type: 'error', code: 'NAME_TAKEN', message: 'taken', fatal: false },
  registered: { type: 'registered', services: ['nas'] },
  'registered (empty)': { type: 'registered', services: [] },
  incoming: { type: 'incoming', connId: CONN, service: 'nas', hello: HELLO },
  reply: { type: 'reply', connId: CONN, reply: HELLO, ticket: TICKET },
  confirm: { type: 'confirm', connId: CONN, confirm: HELLO, ticket: TICKET },
  'connect-failed': { type: 'connect-failed', connId: CONN, code: 'NO_SUCH_SERVICE', message: 'none' },
  'relay-ok': { type: 'relay-ok', connId: CONN },
  ping: { type: 'ping', t: 0 },
  pong: { type: 'pong', t: 1e12 },
};

function refused<T>(r: Parsed<T>, reasonPattern?: RegExp): string {
  assert.equal(r.ok, false, `expected refusal, got ${JSON.stringify(r)}`);
  const reason = (r as { ok: false; reason: string }).reason;
  assert.equal(typeof reason, 'string');
  assert.ok(reason.length > 0);
  if (reasonPattern) assert.match(reason, reasonPattern);
  return reason;
}

function accepted<T>(r: Parsed<T>, expected: unknown): void {
  assert.equal(r.ok, true, `expected acceptance, got ${JSON.stringify(r)}`);
  assert.deepEqual((r as { ok: true; message: T }).message, expected);
}

describe('every message type is accepted in a valid form', () => {
  for (const [name, msg] of Object.entries(validClient)) {
    it(`client: ${name}`, () => accepted(parseClientMessage(msg), msg));
  }
  for (const [name, msg] of Object.entries(validServer)) {
    it(`server: ${name}`, () => accepted(parseServerMessage(msg), msg));
  }

  it('client and server message sets are not interchangeable', () => {
    refused(parseClientMessage(validServer.challenge), /type/);
    refused(parseServerMessage(validClient.login), /type/);
    // "confirm" exists in both but with different shapes
    refused(parseClientMessage(validServer.confirm), /ticket/);
    refused(parseServerMessage(validClient.confirm), /ticket/);
  });
});

describe('refusals carry a reason string', () => {
  it('unknown type / missing type / non-objects', () => {
    refused(parseClientMessage({ type: 'shutdown' }), /^type: /);
    refused(parseServerMessage({ type: 'shutdown' }), /^type: /);
    refused(parseClientMessage({ t: 1 }));
    for (const v of [null, undefined, 42, 'ping', [], [validClient.ping]]) {
      refused(parseClientMessage(v));
      refused(parseServerMessage(v));
    }
  });

  it('extra keys are refused for every type, naming the key', () => {
    for (const msg of Object.values(validClient)) refused(parseClientMessage({ ...msg, extra: 1 }), /extra/);
    for (const msg of Object.values(validServer)) refused(parseServerMessage({ ...msg, extra: 1 }), /extra/);
  });

  it('a missing required field is refused, naming it', () => {
    const { nonce: _n, ...noNonce } = validClient.login!;
    refused(parseClientMessage(noNonce), /nonce/);
    const { ticket: _t, ...noTicket } = validServer.reply!;
    refused(parseServerMessage(noTicket), /ticket/);
  });

  it('nonce, proof and ticket must decode to exactly 32 bytes', () => {
    for (const n of [0, 1, 16, 31, 33, 48]) {
      refused(parseClientMessage({ ...validClient.login, nonce: b64(n) }), /nonce/);
      refused(parseClientMessage({ ...validClient.login, proof: b64(n) }), /proof/);
      refused(parseClientMessage({ ...validClient['relay-join'], ticket: b64(n) }), /ticket/);
      refused(parseServerMessage({ ...validServer.challenge, nonce: b64(n) }), /nonce/);
      refused(parseServerMessage({ ...validServer.welcome, proof: b64(n) }), /proof/);
      refused(parseServerMessage({ ...validServer.reply, ticket: b64(n) }), /ticket/);
    }
  });

  it('handshake blobs must be 1..512 bytes', () => {
    for (const n of [1, 2, 511, 512]) {
      accepted(parseClientMessage({ ...validClient.connect, hello: b64(n) }), { ...validClient.connect, hello: b64(n) });
      accepted(parseServerMessage({ ...validServer.reply, reply: b64(n) }), { ...validServer.reply, reply: b64(n) });
    }
    for (const n of [0, 513, 600]) {
      refused(parseClientMessage({ ...validClient.connect, hello: b64(n) }), /hello/);
      refused(parseClientMessage({ ...validClient.accept, reply: b64(n) }), /reply/);
      refused(parseClientMessage({ ...validClient.confirm, confirm: b64(n) }), /confirm/);
      refused(parseServerMessage({ ...validServer.incoming, hello: b64(n) }), /hello/);
    }
  });

  it('strings that are not base64 are refused', () => {
    const bad = [
      '!'.repeat(44),
      NONCE.slice(0, 20) + ' ' + NONCE.slice(21), // a space
      NONCE.replace(/[+/]/g, '-').replace(/^./, '-'), // base64url alphabet
      NONCE.slice(0, 40) + '====', // too much padding
      NONCE + '\n',
    ];
    for (const s of bad) refused(parseClientMessage({ ...validClient.login, nonce: s }), /nonce/);
    refused(parseClientMessage({ ...validClient.login, nonce: 32 }), /nonce/);
  });

  it('service names: 1-63 chars of [A-Za-z0-9._-], starting with a letter or digit', () => {
    const good = ['a', '9', 'A'.repeat(63), 'nas.home_1-x', 'a.', 'a..b'];
    for (const s of good) {
      accepted(parseClientMessage({ ...validClient.connect, service: s }), { ...validClient.connect, service: s });
      accepted(parseClientMessage({ type: 'register', services: [s] }), { type: 'register', services: [s] });
    }
    const bad = ['', 'a'.repeat(64), 'my nas', ' nas', 'nas ', '.nas', '-nas', '_nas', 'nas/1', 'nas\n', 'näs', 'a:b'];
    for (const s of bad) {
      refused(parseClientMessage({ ...validClient.connect, service: s }), /^service: /);
      refused(parseServerMessage({ ...validServer.incoming, service: s }), /^service: /);
      refused(parseClientMessage({ type: 'register', services: ['ok', s] }), /^services\.1: /);
      refused(parseServerMessage({ type: 'registered', services: [s] }), /^services\.0: /);
    }
  });

  it('register needs 1..64 services; registered allows 0..64', () => {
    refused(parseClientMessage({ type: 'register', services: [] }), /services/);
    const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);
    accepted(parseClientMessage({ type: 'register', services: names(64) }), { type: 'register', services: names(64) });
    refused(parseClientMessage({ type: 'register', services: names(65) }), /services/);
    refused(parseServerMessage({ type: 'registered', services: names(65) }), /services/);
  });

  it('connId must be 32 lowercase hex characters', () => {
    const bad = ['', CONN.slice(1), CONN + '0', CONN.toUpperCase(), 'g' + CONN.slice(1), CONN.slice(0, 31) + ' ', '0x' + CONN.slice(2)];
    for (const c of bad) {
      refused(parseClientMessage({ ...validClient['relay-join'], connId: c }), /^connId: /);
      refused(parseClientMessage({ ...validClient.connect, connId: c }), /^connId: /);
      refused(parseServerMessage({ ...validServer['relay-ok'], connId: c }), /^connId: /);
      refused(parseServerMessage({ ...validServer['connect-failed'], connId: c }), /^connId: /);
    }
  });

  it('error codes: every code both ends know is accepted in every message that carries one; a well-formed unknown code is refused', () => {
    for (const code of CONTROL_ERROR_CODES) {
      accepted(parseClientMessage({ ...validClient.refuse, code }), { ...validClient.refuse, code });
      accepted(parseServerMessage({ ...validServer.error, code }), { ...validServer.error, code });
      accepted(parseServerMessage({ ...validServer['connect-failed'], code }), { ...validServer['connect-failed'], code });
    }
    // The wire strings are the names: renaming one would break older peers.
    for (const [name, code] of Object.entries(ControlErrorCode)) assert.equal(code, name);
    refused(parseClientMessage({ ...validClient.refuse, code: 'NOT_A_CODE' }), /code/);
    refused(parseServerMessage({ ...validServer.error, code: 'NOT_A_CODE' }), /code/);
    refused(parseServerMessage({ ...validServer['connect-failed'], code: 'NOT_A_CODE' }), /code/);
  });

  it('other field constraints: role, error codes, text length, numbers, booleans, literals', () => {
    refused(parseClientMessage({ ...validClient.login, role: 'admin' }), /role/);
    refused(parseClientMessage({ ...validClient.login, name: 'x'.repeat(65) }), /name/);
    refused(parseClientMessage({ ...validClient.refuse, code: 'lowercase' }), /code/);
    refused(parseClientMessage({ ...validClient.refuse, code: 'A' }), /code/);
    refused(parseClientMessage({ ...validClient.refuse, message: 'x'.repeat(501) }), /message/);
    accepted(parseClientMessage({ ...validClient.refuse, message: 'x'.repeat(500) }), { ...validClient.refuse, message: 'x'.repeat(500) });
    refused(parseServerMessage({ ...validServer.error, fatal: 'yes' }), /fatal/);
    refused(parseServerMessage({ ...validServer.challenge, server: 'other' }), /server/);
    refused(parseServerMessage({ ...validServer.welcome, peerId: 'p'.repeat(65) }), /peerId/);
    for (const t of ['1', null, Infinity, NaN]) refused(parseClientMessage({ type: 'ping', t }), /^t: /);
  });
});

describe('properties', () => {
  it('parsing never throws, and every result is either a message or a non-empty reason', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({ type: fc.constantFrom('login', 'ping', 'connect', 'challenge', 'reply', 'relay-ok'), t: fc.anything(), connId: fc.anything() }, { requiredKeys: ['type'] }),
        ),
        (v) => {
          for (const r of [parseClientMessage(v), parseServerMessage(v)]) {
            if (r.ok) assert.equal(typeof r.message, 'object');
            else assert.ok(typeof r.reason === 'string' && r.reason.length > 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('generated valid connect messages are accepted; any other string as connId is refused', () => {
    const hexId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
    const blob = fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b).toString('base64'));
    fc.assert(
      fc.property(hexId, name, blob, (connId, service, hello) => {
        const msg = { type: 'connect', connId, service, hello };
        accepted(parseClientMessage(msg), msg);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (connId) => {
        fc.pre(!/^[0-9a-f]{32}$/.test(connId));
        refused(parseClientMessage({ ...validClient['relay-join'], connId }), /connId/);
      }),
    );
  });
});

describe('candidates of a kind this version does not know', () => {
  const offer = (kinds: string[]) =>
    ({
      type: 'offer',
      connId: 'a'.repeat(32),
      attempt: 1,
      candidates: kinds.map((kind, i) => ({ kind, address: i % 2 ? '2001:db8::7' : '198.51.100.7', port: 40000 + i })),
    }) as unknown;

  it('are left out of an offer (a newer peer\'s kind), the known ones kept in order', () => {
    const r = parseClientMessage(offer(['mapped', 'relayed-v9', 'host', 'srflx']));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.message.type, 'offer');
    if (r.message.type !== 'offer') return;
    assert.deepEqual(
      r.message.candidates.map((c) => `${c.kind} ${c.port}`),
      ['mapped 40000', 'host 40002', 'srflx 40003'],
    );
  });

  it('are still refused when malformed in any other way (kind word, address, port, extra keys)', () => {
    for (const bad of [
      { kind: 'Not A Kind', address: '198.51.100.7', port: 1 },
      { kind: 'later', address: 'example.com', port: 1 },
      { kind: 'later', address: '198.51.100.7', port: 0 },
      { kind: 'later', address: '198.51.100.7', port: 1, extra: true },
    ]) {
      const r = parseClientMessage({ type: 'offer', connId: 'a'.repeat(32), attempt: 1, candidates: [bad] });
      assert.equal(r.ok, false, JSON.stringify(bad));
      assert.match(r.ok ? '' : r.reason, /candidates/, 'refused for the candidate, not the message shape');
    }
  });
});

describe('an offer\'s rejoin ticket', () => {
  const base = { type: 'offer', connId: 'a'.repeat(32), attempt: 2, candidates: [] };

  it('is optional, and a 32-byte one is kept', () => {
    assert.ok(parseClientMessage(base).ok);
    const ticket = Buffer.alloc(32, 7).toString('base64');
    const r = parseClientMessage({ ...base, ticket });
    assert.ok(r.ok && r.message.type === 'offer');
    assert.equal(r.message.ticket, ticket);
  });

  it('is refused when it is not 32 bytes of base64', () => {
    for (const ticket of [Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), 'not base64!', 7]) {
      const r = parseClientMessage({ ...base, ticket });
      assert.equal(r.ok, false, JSON.stringify(ticket));
      assert.match(r.ok ? '' : r.reason, /ticket/);
    }
  });
});

/**
 * Pings and pongs skip the zod schema (messages.ts, heartbeat()): whatever
 * the body, both parsers must answer exactly what the schema answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ClientMessage, ServerMessage, parseClientMessage, parseServerMessage } from '../../src/control/messages.js';

/** Bodies near a heartbeat: the right and wrong type words, t of every kind or missing, extra keys, JSON's own __proto__ key. */
const nearHeartbeat = fc
  .record(
    {
      type: fc.constantFrom('ping', 'pong', 'Ping', 'relay-ok', '', 1),
      t: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(NaN, Infinity, -Infinity, -0, '1', null, true)),
      extra: fc.oneof(fc.constant(null), fc.constantFrom('x', 'connId', 'constructor', '__proto__', 'toString')),
    },
    { requiredKeys: ['type'] },
  )
  .map(({ type, t, extra }) => {
    const body: Record<string, unknown> = { type };
    if (t !== undefined) body.t = t;
    // Through JSON, so a "__proto__" key is an own key as on the wire (NaN and Infinity become null there: kept as-is too).
    if (extra !== null && extra !== undefined) return [body, JSON.parse(JSON.stringify({ ...body }).replace(/}$/, `,"${extra}":1}`)) as unknown];
    return [body];
  })
  .chain((bodies) => fc.constantFrom(...bodies));

const anyBody = fc.oneof(nearHeartbeat, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, undefined, [], ['ping'], Object.create({ type: 'ping', t: 1 }) as unknown));

describe('heartbeat fast path', () => {
  it('parseClientMessage and parseServerMessage answer what the schemas answer, for any body', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        for (const [parse, schema] of [
          [parseClientMessage, ClientMessage],
          [parseServerMessage, ServerMessage],
        ] as const) {
          const fast = parse(body);
          const slow = schema.safeParse(body);
          assert.equal(fast.ok, slow.success, JSON.stringify(body));
          if (fast.ok && slow.success) assert.deepEqual(fast.message, slow.data);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('takes a plain ping and pong, refuses one with a stray key or a non-finite t; an inherited field is left to the schema', () => {
    assert.deepEqual(parseClientMessage({ type: 'ping', t: 1.5 }), { ok: true, message: { type: 'ping', t: 1.5 } });
    assert.deepEqual(parseServerMessage({ type: 'pong', t: 7 }), { ok: true, message: { type: 'pong', t: 7 } });
    assert.equal(parseClientMessage({ type: 'ping', t: 1, x: 1 }).ok, false);
    assert.equal(parseClientMessage({ type: 'ping', t: Infinity }).ok, false);
    assert.equal(parseClientMessage(JSON.parse('{"type":"ping","t":1,"__proto__":{}}')).ok, false);
    const inherited = Object.assign(Object.create({ t: 1 }) as object, { type: 'ping' });
    assert.equal(parseClientMessage(inherited).ok, ClientMessage.safeParse(inherited).success);
  });
});

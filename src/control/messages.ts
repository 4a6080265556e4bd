import { isIP } from 'node:net';
import { z } from 'zod';
import { CONTROL_ERROR_CODES } from './error-codes.js';

/**
 * Control-channel messages, validated on arrival: anything that does not
 * match a schema exactly is refused before any field is used.
 */
const b64 = (minBytes: number, maxBytes: number) =>
  z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/)
    .refine((s) => {
      const n = Buffer.byteLength(s, 'base64');
      return n >= minBytes && n <= maxBytes;
    }, `must be ${minBytes}-${maxBytes} bytes of base64`);

export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const serviceName = z.string().regex(SERVICE_NAME, 'service names are 1-63 letters, digits, ".", "_" or "-"');
/** Connection ids are chosen by the visitor: 16 random bytes as hex. */
export const connId = z.string().regex(/^[0-9a-f]{32}$/);
/** One of the codes both ends know (error-codes.ts); anything else is refused like any malformed field. */
const errorCode = z.enum(CONTROL_ERROR_CODES);
const text = z.string().max(500);

/** A session report's bounds: its sessions, and the characters of a punch timeline it carries. */
export const MAX_REPORT_SESSIONS = 64;
export const MAX_REPORT_TIMELINE = 4000;

export const PeerRole = z.enum(['provider', 'visitor']);
/**
 * What a service carries: TCP connections (streams) or UDP datagrams. Sent
 * only for 'udp' (absent = tcp), so peers and rendezvous from before UDP
 * services see the messages they always did.
 */
export const ServiceProto = z.enum(['tcp', 'udp']);
export type ServiceProto = z.infer<typeof ServiceProto>;

/** A UDP candidate for hole punching (see src/punch/candidate.ts). */
const ipAddress = z.string().max(45).refine((s) => isIP(s) !== 0, 'must be an IP address');
export const CandidateMessage = z.strictObject({
  kind: z.enum(['host', 'srflx', 'predicted', 'prflx', 'mapped']),
  address: ipAddress,
  port: z.number().int().min(1).max(65535),
});
export const NatInfoMessage = z.strictObject({
  udp: z.boolean(),
  mapping: z.enum(['independent', 'dependent', 'unknown']),
  allocation: z.enum(['preserving', 'sequential', 'random', 'unknown']),
  step: z.number().int().min(-1000).max(1000).optional(),
});
/** Which punch attempt of a session (a re-punch after a path died is the next one). */
const attempt = z.number().int().min(0).max(1000);
/**
 * A candidate of a kind this version does not know (a newer peer's) has the
 * same shape with another kind word. It is left out, not a reason to refuse
 * the whole offer or punch: peers and rendezvous of different versions still
 * punch with the kinds both know. Anything else malformed still refuses it.
 */
const KNOWN_KINDS: ReadonlySet<string> = new Set(CandidateMessage.shape.kind.options);
const LaterKindCandidate = z.strictObject({
  kind: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/),
  address: ipAddress,
  port: z.number().int().min(1).max(65535),
});
const candidates = z
  .array(z.union([CandidateMessage, LaterKindCandidate]))
  .max(32)
  .transform((list) => list.filter((c): c is CandidateMessage => KNOWN_KINDS.has(c.kind)));
export type PeerRole = z.infer<typeof PeerRole>;

/**
 * One session as a peer sees it, for the rendezvous's dashboard: where its
 * packets go, how fast, and how its punches went. Numbers and words only;
 * never a key, secret or token (the rendezvous shows all of it).
 */
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const SessionReport = z.strictObject({
  connId,
  service: serviceName,
  path: z.enum(['relay', 'direct_lan', 'direct_internet', 'none']),
  family: z.enum(['ipv4', 'ipv6']).optional(),
  rttMs: z.number().int().min(0).max(600_000).optional(),
  bytesSent: count,
  bytesReceived: count,
  ageSeconds: count,
  /** Punch attempts of this session that found a path, and that ended without one. */
  punchesDirect: z.number().int().min(0).max(100_000),
  punchesFailed: z.number().int().min(0).max(100_000),
  /** Why the session is (or is not) on a direct path, in words. */
  direct: text.optional(),
  /** The latest failed attempt: why, and what it tried (PunchTimeline.format()). */
  failure: z.strictObject({ attempt, reason: text, timeline: z.string().max(MAX_REPORT_TIMELINE) }).optional(),
});
export type SessionReport = z.infer<typeof SessionReport>;

// Rendezvous -> peer
export const ServerMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('challenge'), nonce: b64(32, 32), server: z.literal('burrow-rendezvous') }),
  z.strictObject({ type: z.literal('welcome'), proof: b64(32, 32), peerId: z.string().max(64) }),
  z.strictObject({ type: z.literal('error'), code: errorCode, message: text, fatal: z.boolean() }),
  z.strictObject({ type: z.literal('registered'), services: z.array(serviceName).max(64) }),
  /** `proto`: what the visitor asked for (from its connect); the provider refuses a mismatch with PROTO_MISMATCH. */
  z.strictObject({ type: z.literal('incoming'), connId, service: serviceName, hello: b64(1, 512), proto: ServiceProto.optional() }),
  /**
   * `relay`: HOST:PORT of the rendezvous node to open the relay link to, when it is not this one
   * (a cluster: the provider's node holds the session). Sent only for such sessions.
   */
  z.strictObject({ type: z.literal('reply'), connId, reply: b64(1, 512), ticket: b64(32, 32), relay: z.string().min(3).max(300).optional() }),
  z.strictObject({ type: z.literal('confirm'), connId, confirm: b64(1, 512), ticket: b64(32, 32), direct: z.boolean().optional() }),
  z.strictObject({ type: z.literal('connect-failed'), connId, code: errorCode, message: text }),
  /** The peer's candidates (or why it offers none), and when to start punching. */
  z.strictObject({
    type: z.literal('punch'),
    connId,
    attempt,
    candidates,
    nat: NatInfoMessage.optional(),
    startInMs: z.number().min(0).max(5000),
    reason: text.optional(),
  }),
  /** The other peer wants to punch (again): offer candidates for this attempt. */
  z.strictObject({ type: z.literal('punch-request'), connId, attempt }),
  z.strictObject({ type: z.literal('relay-ok'), connId }),
  z.strictObject({ type: z.literal('ping'), t: z.number() }),
  z.strictObject({ type: z.literal('pong'), t: z.number() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

// Peer -> rendezvous
export const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('login'),
    role: PeerRole,
    nonce: b64(32, 32),
    proof: b64(32, 32),
    name: z.string().max(64).optional(),
  }),
  z.strictObject({ type: z.literal('relay-join'), connId, ticket: b64(32, 32) }),
  z.strictObject({ type: z.literal('register'), services: z.array(serviceName).min(1).max(64) }),
  z.strictObject({ type: z.literal('connect'), connId, service: serviceName, hello: b64(1, 512), proto: ServiceProto.optional() }),
  z.strictObject({ type: z.literal('accept'), connId, reply: b64(1, 512) }),
  z.strictObject({ type: z.literal('refuse'), connId, code: errorCode, message: text }),
  z.strictObject({ type: z.literal('confirm'), connId, confirm: b64(1, 512), direct: z.boolean().optional() }),
  /**
   * This peer's candidates for a punch attempt; no candidates plus a reason = it will not punch.
   * `ticket` (the session's relay ticket) only after a control reconnect: it proves the new
   * connection is the same side of the session.
   */
  z.strictObject({ type: z.literal('offer'), connId, attempt, candidates, nat: NatInfoMessage.optional(), reason: text.optional(), ticket: b64(32, 32).optional() }),
  /**
   * What this peer's sessions are doing, for the dashboard: sent only to a
   * rendezvous that asked for it (see capabilities.ts), as older ones refuse it.
   */
  z.strictObject({ type: z.literal('report'), sessions: z.array(SessionReport).max(MAX_REPORT_SESSIONS) }),
  z.strictObject({ type: z.literal('ping'), t: z.number() }),
  z.strictObject({ type: z.literal('pong'), t: z.number() }),
]);
export type CandidateMessage = z.infer<typeof CandidateMessage>;
export type NatInfoMessage = z.infer<typeof NatInfoMessage>;
export type ClientMessage = z.infer<typeof ClientMessage>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

function parseWith<T>(schema: z.ZodType<T>, body: unknown): Parsed<T> {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0];
  return { ok: false, reason: issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid message' };
}

export const parseServerMessage = (body: unknown): Parsed<ServerMessage> => parseWith(ServerMessage, body);
export const parseClientMessage = (body: unknown): Parsed<ClientMessage> => parseWith(ClientMessage, body);

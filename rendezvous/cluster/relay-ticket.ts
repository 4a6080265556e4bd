import { BurrowError } from '../../src/errors.js';
import { NODE_ID } from './keys.js';
import { MAC_BYTES, type ClusterSecret } from './secret.js';

/**
 * A relay ticket across nodes: node A, where the visitor is, sends it to the
 * visitor so that the visitor's relay connection goes to node B, where the
 * provider is, and B admits it without a login. Signed with the cluster
 * secret (its relay-ticket key), bound to the session's connection id, the
 * side, the node that must accept it, and an expiry; single use (SpentTickets).
 *
 * Layout (then base64url): version 1 | expires-at u64 ms (wall clock) |
 * side 0 visitor / 1 provider | connection id 16 bytes | nonce 8 bytes |
 * node id length u8 | node id | HMAC-SHA256 over everything before it.
 */
const VERSION = 1;
const CONN_ID_BYTES = 16;
const NONCE_BYTES = 8;
const FIXED = 1 + 8 + 1 + CONN_ID_BYTES + NONCE_BYTES + 1;
/** A longer-lived ticket is refused even with a good MAC: a ticket is for one redirect, now. */
export const MAX_TICKET_LIFETIME_MS = 30_000;
/** Longest encoded ticket (a 63-byte node id). */
export const MAX_TICKET_CHARS = Math.ceil(((FIXED + 63 + MAC_BYTES) * 4) / 3);

export type TicketSide = 'visitor' | 'provider';

export interface RelayTicketClaims {
  /** The session's connection id: 32 hex digits (control/messages.ts's connId). */
  readonly connId: string;
  readonly side: TicketSide;
  /** The node that must accept it. */
  readonly node: string;
  /** Wall clock, ms. */
  readonly expiresAt: number;
}

export type TicketRefusal = 'malformed' | 'bad-mac' | 'expired' | 'too-long-lived' | 'wrong-node' | 'wrong-session' | 'spent';
export type TicketVerdict = { readonly ok: true; readonly nonce: string; readonly expiresAt: number } | { readonly ok: false; readonly reason: TicketRefusal };

export function signRelayTicket(secret: ClusterSecret, claims: RelayTicketClaims, nonce: Uint8Array): string {
  if (!/^[0-9a-f]{32}$/.test(claims.connId)) throw new BurrowError('ERR_INVALID_ARGUMENT', 'connection id must be 32 hex digits');
  if (!NODE_ID.test(claims.node)) throw new BurrowError('ERR_INVALID_ARGUMENT', 'bad node id');
  if (nonce.length !== NONCE_BYTES) throw new BurrowError('ERR_INVALID_ARGUMENT', `nonce must be ${NONCE_BYTES} bytes`);
  if (!Number.isSafeInteger(claims.expiresAt) || claims.expiresAt < 0) throw new BurrowError('ERR_INVALID_ARGUMENT', 'expiry must be a whole ms time');
  const node = Buffer.from(claims.node, 'ascii');
  const body = Buffer.alloc(FIXED + node.length);
  let o = body.writeUInt8(VERSION, 0);
  o = body.writeBigUInt64BE(BigInt(claims.expiresAt), o);
  o = body.writeUInt8(claims.side === 'visitor' ? 0 : 1, o);
  o += Buffer.from(claims.connId, 'hex').copy(body, o);
  o += Buffer.from(nonce).copy(body, o);
  o = body.writeUInt8(node.length, o);
  node.copy(body, o);
  return Buffer.concat([body, secret.mac('relay-ticket', [body])]).toString('base64url');
}

/**
 * Checks a ticket presented to node `expect.node` for session `expect.connId`,
 * side `expect.side`, at wall time `now`. MAC first (constant time), then the
 * claims. Never throws on bad input.
 */
export function verifyRelayTicket(
  secret: ClusterSecret,
  ticket: string,
  expect: { readonly node: string; readonly connId: string; readonly side: TicketSide },
  now: number,
): TicketVerdict {
  if (ticket.length > MAX_TICKET_CHARS || !/^[A-Za-z0-9_-]+$/.test(ticket)) return { ok: false, reason: 'malformed' };
  const raw = Buffer.from(ticket, 'base64url');
  if (raw.length < FIXED + 1 + MAC_BYTES) return { ok: false, reason: 'malformed' };
  const body = raw.subarray(0, raw.length - MAC_BYTES);
  if (!secret.verify('relay-ticket', [body], raw.subarray(raw.length - MAC_BYTES))) return { ok: false, reason: 'bad-mac' };
  if (body.readUInt8(0) !== VERSION) return { ok: false, reason: 'malformed' };
  const nodeLen = body.readUInt8(FIXED - 1);
  if (body.length !== FIXED + nodeLen) return { ok: false, reason: 'malformed' };
  const expiresAt = Number(body.readBigUInt64BE(1));
  const side: TicketSide = body.readUInt8(9) === 0 ? 'visitor' : 'provider';
  const connId = body.subarray(10, 10 + CONN_ID_BYTES).toString('hex');
  const nonce = body.subarray(10 + CONN_ID_BYTES, 10 + CONN_ID_BYTES + NONCE_BYTES).toString('hex');
  const node = body.subarray(FIXED).toString('ascii');
  if (now >= expiresAt) return { ok: false, reason: 'expired' };
  if (expiresAt - now > MAX_TICKET_LIFETIME_MS) return { ok: false, reason: 'too-long-lived' };
  if (node !== expect.node) return { ok: false, reason: 'wrong-node' };
  if (connId !== expect.connId || side !== expect.side) return { ok: false, reason: 'wrong-session' };
  return { ok: true, nonce, expiresAt };
}

/**
 * Tickets already used, until they expire: a ticket admits one connection.
 * Bounded: when full of unexpired tickets it refuses (fails closed) rather
 * than forgetting one that could then be replayed.
 */
export class SpentTickets {
  private readonly spent = new Map<string, number>();

  constructor(private readonly maxEntries = 65_536) {}

  /** Marks a verified ticket used; false if it was already, or no room is left. */
  spend(verdict: { readonly nonce: string; readonly expiresAt: number }, now: number): boolean {
    if (this.spent.has(verdict.nonce)) return false;
    if (this.spent.size >= this.maxEntries) {
      for (const [n, exp] of this.spent) if (exp <= now) this.spent.delete(n);
      if (this.spent.size >= this.maxEntries) return false;
    }
    this.spent.set(verdict.nonce, verdict.expiresAt);
    return true;
  }

  get size(): number {
    return this.spent.size;
  }
}

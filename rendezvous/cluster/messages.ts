import { z } from 'zod';
import { INCARNATION, NODE_ID } from './keys.js';

/**
 * What nodes say to each other over the bus. A `peer` message carries one
 * control message between two peers on different nodes, by the peers' ids
 * (PeerId as session-setup uses them, qualified by their node); its
 * `message` is validated by the control layer's schemas where it is
 * delivered, not here. A remote peer is named by the sending node (the
 * envelope's `from`) and its id there, so a node's session setup can treat
 * it as one more PeerId; `peer-gone` carries the end of its connection.
 * ping/pong are for liveness checks and tests.
 */
const nonce = z.string().regex(/^[0-9a-f]{1,32}$/);
/** A peer on a node: the node's own connection id ("p12"). */
const peerId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

export const ClusterMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ping'), nonce }),
  z.strictObject({ type: z.literal('pong'), nonce }),
  /** `rttMs`: the sending node's last control round trip to `fromPeer` (punch starts are timed with it). */
  z.strictObject({ type: z.literal('peer'), fromPeer: peerId, toPeer: peerId, message: z.record(z.string(), z.unknown()), rttMs: z.number().min(0).max(60_000).optional() }),
  /** A peer whose messages this node forwarded closed its control connection (session-setup's peerGone, across nodes). */
  z.strictObject({ type: z.literal('peer-gone'), peer: peerId }),
]);
export type ClusterMessage = z.infer<typeof ClusterMessage>;

/** The signed part of every bus frame. */
export const BusEnvelope = z.strictObject({
  v: z.literal(1),
  from: z.string().regex(NODE_ID),
  fromInc: z.string().regex(INCARNATION),
  to: z.string().regex(NODE_ID),
  toInc: z.string().regex(INCARNATION),
  /** The sender incarnation's message counter: replays are caught by a window per sender. */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** The sender's wall clock, ms since the epoch: bounds how long a replay could matter. */
  ts: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  msg: ClusterMessage,
});
export type BusEnvelope = z.infer<typeof BusEnvelope>;

import { createHash, randomBytes } from 'node:crypto';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { BurrowError } from '../errors.js';

/**
 * CPace over ristretto255 with SHA-512 (draft-irtf-cfrg-cpace, initiator-
 * responder setting): a balanced PAKE. Both sides derive a generator from the
 * shared secret, exchange one point each, and end with the same intermediate
 * session key only if their secrets matched. Whoever relays the two points
 * (the rendezvous) learns nothing it could test password guesses against.
 *
 * Pure functions over bytes; randomness is injectable for test vectors.
 */
const Point = ristretto255.Point;
/** Named through the library's export, so declaration files can name it too. */
type RistrettoPoint = InstanceType<typeof ristretto255.Point>;
const DSI = Buffer.from('CPaceRistretto255');
const DSI_ISK = Buffer.from('CPaceRistretto255_ISK');
/** SHA-512's input block size: the generator string is padded to fill it. */
const HASH_BLOCK = 128;
export const CPACE_POINT_LENGTH = 32;

/** LEB128 length, then the bytes (the draft's prepend_len). */
function prependLen(data: Uint8Array): Buffer {
  const len: number[] = [];
  let n = data.length;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from(len), data]);
}

function lvCat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map(prependLen));
}

function sha512(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The password-dependent generator: calculate_generator(H, PRS, CI, sid). */
export function cpaceGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): RistrettoPoint {
  const zpad = Math.max(0, HASH_BLOCK - 1 - prependLen(prs).length - prependLen(DSI).length);
  const genStr = lvCat(DSI, prs, Buffer.alloc(zpad), ci, sid);
  return ristretto255_hasher.deriveToCurve!(sha512(genStr));
}

/** A uniformly random non-zero scalar. */
export function randomScalar(random: (n: number) => Uint8Array = randomBytes): bigint {
  const Fn = Point.Fn;
  for (;;) {
    const wide = random(64);
    // Little-endian: the last byte is the most significant.
    const x = wide.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
    const s = Fn.create(x);
    if (s !== 0n) return s;
  }
}

export interface CpaceShare {
  /** Keep secret; used once. */
  readonly scalar: bigint;
  /** Send to the peer. */
  readonly point: Buffer;
}

export function cpaceShare(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, scalar = randomScalar()): CpaceShare {
  const g = cpaceGenerator(prs, ci, sid);
  return { scalar, point: Buffer.from(g.multiply(scalar).toBytes()) };
}

/**
 * The intermediate session key ISK. Throws ERR_HANDSHAKE_INVALID_POINT if the
 * peer's point does not decode or yields the identity (an attacker's trick to
 * force a known key).
 */
export function cpaceFinish(
  own: CpaceShare,
  peerPoint: Uint8Array,
  sid: Uint8Array,
  transcript: { initiatorPoint: Uint8Array; initiatorAd?: Uint8Array; responderPoint: Uint8Array; responderAd?: Uint8Array },
): Buffer {
  let peer: RistrettoPoint;
  try {
    if (peerPoint.length !== CPACE_POINT_LENGTH) throw new Error('length');
    peer = Point.fromBytes(peerPoint);
  } catch {
    throw new BurrowError('ERR_HANDSHAKE_INVALID_POINT', 'peer sent an invalid CPace point');
  }
  const k = peer.multiply(own.scalar);
  if (k.is0()) throw new BurrowError('ERR_HANDSHAKE_INVALID_POINT', 'peer sent the identity point');
  const empty = new Uint8Array(0);
  return sha512(
    lvCat(DSI_ISK, sid, k.toBytes()),
    lvCat(transcript.initiatorPoint, transcript.initiatorAd ?? empty),
    lvCat(transcript.responderPoint, transcript.responderAd ?? empty),
  );
}

import { randomBytes } from 'node:crypto';

/**
 * Where protocol code gets randomness: nonces, tickets, connection ids,
 * handshake scalars, backoff jitter. Production uses the OS's CSPRNG; the
 * in-process network lab passes a seeded source so a whole session repeats
 * byte for byte (never do that outside a simulation: seeded bytes are not
 * secret).
 */
export interface RandomSource {
  /** `n` random bytes. */
  bytes(n: number): Buffer;
  /** Uniform in [0, 1); for jitter, never for secrets. */
  next(): number;
}

export const cryptoRandom: RandomSource = {
  bytes: (n) => randomBytes(n),
  next: () => Math.random(),
};

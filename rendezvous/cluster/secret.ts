import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { BurrowError } from '../../src/errors.js';

/** Shortest cluster secret accepted, in bytes (an `openssl rand -hex 16` is 32). */
export const MIN_SECRET_BYTES = 16;
export const MAC_BYTES = 32;

/** What each sub-key authenticates: one key per use, so a MAC of one kind never passes as another. */
export type MacPurpose = 'lease' | 'claim' | 'bus';
const PURPOSES: readonly MacPurpose[] = ['lease', 'claim', 'bus'];

/**
 * The cluster secret, shared by every node, as the HMAC-SHA256 keys derived
 * from it (HKDF, one per purpose). The secret itself is not kept.
 */
export class ClusterSecret {
  private readonly keys: ReadonlyMap<MacPurpose, Buffer>;

  constructor(secret: string | Uint8Array) {
    const ikm = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (ikm.length < MIN_SECRET_BYTES) {
      throw new BurrowError('ERR_CONFIG', `the cluster secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.keys = new Map(PURPOSES.map((p) => [p, Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), `burrow cluster ${p} v1`, 32))]));
  }

  /**
   * HMAC-SHA256 over `parts`, each prefixed with its length, so no two
   * different lists of parts read the same (no ambiguity from separators).
   */
  mac(purpose: MacPurpose, parts: readonly (string | Uint8Array)[]): Buffer {
    const key = this.keys.get(purpose);
    if (key === undefined) throw new BurrowError('ERR_INTERNAL', `no key for ${purpose}`);
    const h = createHmac('sha256', key);
    const len = Buffer.alloc(4);
    for (const p of parts) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      len.writeUInt32BE(b.length);
      h.update(len);
      h.update(b);
    }
    return h.digest();
  }

  /** True if `mac` is the MAC of `parts`; constant time in the MAC's contents. */
  verify(purpose: MacPurpose, parts: readonly (string | Uint8Array)[], mac: Uint8Array): boolean {
    if (mac.length !== MAC_BYTES) return false;
    return timingSafeEqual(this.mac(purpose, parts), mac);
  }
}

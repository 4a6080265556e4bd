import { createHash } from 'node:crypto';

/** The far end's SHA-256 of what it received from us, sent after its payload. */
export const TRAILER_BYTES = 32;

export interface PayloadVerdict {
  ok: boolean;
  downVerified: boolean;
  upVerified: boolean;
  /** SHA-256 of the payload that arrived. */
  downSha256: Buffer;
  error?: string;
}

/**
 * The receiving half of the byte-exact check the traffic tools share
 * (duplex-check.ts on both lanes, kernel/scenarios/stream.ts): the
 * first `size` bytes from the far end are payload, hashed as they arrive;
 * what follows is its 32-byte SHA-256 of what we sent.
 */
export class PayloadCheck {
  received = 0;
  trailerBytes = 0;
  private readonly hash = createHash('sha256');
  private readonly trailer: Buffer[] = [];

  constructor(readonly size: number) {}

  push(chunk: Buffer): void {
    const take = Math.min(chunk.length, this.size - this.received);
    if (take > 0) {
      this.hash.update(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.received += take;
    }
    if (take < chunk.length) {
      this.trailer.push(chunk.subarray(take));
      this.trailerBytes += chunk.length - take;
    }
  }

  /** All payload and the trailer have arrived. */
  get complete(): boolean {
    return this.received >= this.size && this.trailerBytes >= TRAILER_BYTES;
  }

  /** Once complete: the payload against `expectedDown`, the trailer against `sentUpSha256`. Call once. */
  verdict(expectedDown: Buffer, sentUpSha256: Buffer): PayloadVerdict {
    const t = Buffer.concat(this.trailer);
    const downSha256 = this.hash.digest();
    const downVerified = downSha256.equals(expectedDown);
    const upVerified = t.length === TRAILER_BYTES && t.equals(sentUpSha256);
    const ok = downVerified && upVerified;
    return {
      ok,
      downVerified,
      upVerified,
      downSha256,
      ...(ok ? {} : { error: t.length !== TRAILER_BYTES ? `${t.length - TRAILER_BYTES} bytes too many` : 'SHA-256 mismatch' }),
    };
  }
}

/**
 * The target's half: hashes the first `size` bytes the client uploads (what
 * follows is ignored); once they are all in, `digest` is the trailer to send back.
 */
export class UploadHash {
  private got = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly size: number) {}

  get complete(): boolean {
    return this.got >= this.size;
  }

  /** Takes a chunk; returns true on the chunk that completes the upload (once). */
  push(chunk: Buffer): boolean {
    if (this.complete) return false;
    const take = Math.min(chunk.length, this.size - this.got);
    if (take > 0) this.hash.update(take === chunk.length ? chunk : chunk.subarray(0, take));
    this.got += take;
    return this.complete;
  }

  digest(): Buffer {
    return this.hash.digest();
  }
}

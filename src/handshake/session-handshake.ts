import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { BurrowError } from '../errors.js';
import type { Role } from '../role.js';
import { CPACE_POINT_LENGTH, cpaceFinish, cpaceShare, randomScalar, type CpaceShare } from './cpace.js';

/**
 * The end-to-end handshake between a visitor (initiator) and a provider
 * (responder), carried opaquely by the rendezvous:
 *
 *   visitor  -> hello   = version u8 | sid (16) | Ya (32)
 *   provider -> reply   = Yb (32) | provider confirmation (32)
 *   visitor  -> confirm = visitor confirmation (32)
 *
 * CPace turns the service secret into a shared key only for holders of the
 * secret; the confirmations (HMACs over the transcript) give mutual
 * authentication and let each side say "the secret does not match" instead
 * of timing out. Fresh scalars per session give forward secrecy.
 * Sans-I/O: messages in, messages out.
 */
export const HANDSHAKE_VERSION = 1;
const SID_LENGTH = 16;
const MAC_LENGTH = 32;
export const HELLO_LENGTH = 1 + SID_LENGTH + CPACE_POINT_LENGTH;
export const REPLY_LENGTH = CPACE_POINT_LENGTH + MAC_LENGTH;
export const CONFIRM_LENGTH = MAC_LENGTH;

export interface HandshakeParams {
  /** The service secret, as the user typed it. */
  secret: string;
  /** The service name: binds the keys to this service. */
  service: string;
  /** Source of the ephemeral scalar (and of the initiator's default sid). Default: the OS CSPRNG. */
  randomBytes?: (n: number) => Uint8Array;
}

export interface HandshakeResult {
  /** 32 bytes; feed to deriveSessionKeys. */
  sessionKey: Buffer;
  /** Random per session; also names the session in logs and on the relay. */
  sid: Buffer;
}

function channelId(service: string): Buffer {
  return Buffer.from(`burrow v${HANDSHAKE_VERSION} service=${service}`, 'utf8');
}

function expand(isk: Buffer, label: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', isk, Buffer.alloc(0), Buffer.from(label, 'utf8'), length));
}

function confirmation(isk: Buffer, who: Role, sid: Buffer, ya: Buffer, yb: Buffer): Buffer {
  return createHmac('sha256', expand(isk, `burrow confirm ${who}`)).update(sid).update(ya).update(yb).digest();
}

function mismatch(): BurrowError {
  return new BurrowError(
    'ERR_HANDSHAKE_SECRET_MISMATCH',
    'the service secret does not match: check --secret on the visitor and the provider',
  );
}

function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class HandshakeInitiator {
  private readonly share: CpaceShare;
  readonly sid: Buffer;

  constructor(private readonly params: HandshakeParams, sid: Buffer = Buffer.from((params.randomBytes ?? randomBytes)(SID_LENGTH))) {
    if (sid.length !== SID_LENGTH) throw new BurrowError('ERR_INVALID_ARGUMENT', `sid must be ${SID_LENGTH} bytes`);
    this.sid = sid;
    this.share = cpaceShare(Buffer.from(params.secret, 'utf8'), channelId(params.service), sid, randomScalar(params.randomBytes));
  }

  hello(): Buffer {
    return Buffer.concat([Buffer.from([HANDSHAKE_VERSION]), this.sid, this.share.point]);
  }

  /**
   * Processes the provider's reply. Always returns a confirmation to send
   * (so the provider learns of a mismatch too); `result` is the session or
   * the error to report.
   */
  onReply(reply: Uint8Array): { confirm: Buffer; result: HandshakeResult | BurrowError } {
    if (reply.length !== REPLY_LENGTH) {
      const err = new BurrowError('ERR_HANDSHAKE_PROTOCOL', `handshake reply must be ${REPLY_LENGTH} bytes, got ${reply.length}`);
      return { confirm: Buffer.alloc(CONFIRM_LENGTH), result: err };
    }
    const yb = Buffer.from(reply.subarray(0, CPACE_POINT_LENGTH));
    const theirMac = Buffer.from(reply.subarray(CPACE_POINT_LENGTH));
    const ya = this.share.point;
    let isk: Buffer;
    try {
      isk = cpaceFinish(this.share, yb, this.sid, { initiatorPoint: ya, responderPoint: yb });
    } catch (err) {
      return { confirm: Buffer.alloc(CONFIRM_LENGTH), result: err as BurrowError };
    }
    const confirm = confirmation(isk, 'initiator', this.sid, ya, yb);
    if (!macEqual(theirMac, confirmation(isk, 'responder', this.sid, ya, yb))) return { confirm, result: mismatch() };
    return { confirm, result: { sessionKey: expand(isk, 'burrow session key'), sid: this.sid } };
  }
}

export class HandshakeResponder {
  private pending: { isk: Buffer; sid: Buffer; ya: Buffer; yb: Buffer } | null = null;

  constructor(private readonly params: HandshakeParams) {}

  /** Processes the visitor's hello; returns the reply. Throws on a malformed hello. */
  onHello(hello: Uint8Array): Buffer {
    if (hello.length !== HELLO_LENGTH || hello[0] !== HANDSHAKE_VERSION) {
      throw new BurrowError(
        'ERR_HANDSHAKE_PROTOCOL',
        hello[0] !== HANDSHAKE_VERSION
          ? `unsupported handshake version ${hello[0]} (this provider speaks ${HANDSHAKE_VERSION})`
          : `handshake hello must be ${HELLO_LENGTH} bytes, got ${hello.length}`,
      );
    }
    const sid = Buffer.from(hello.subarray(1, 1 + SID_LENGTH));
    const ya = Buffer.from(hello.subarray(1 + SID_LENGTH));
    const share = cpaceShare(Buffer.from(this.params.secret, 'utf8'), channelId(this.params.service), sid, randomScalar(this.params.randomBytes));
    const yb = share.point;
    const isk = cpaceFinish(share, ya, sid, { initiatorPoint: ya, responderPoint: yb });
    this.pending = { isk, sid, ya, yb };
    return Buffer.concat([yb, confirmation(isk, 'responder', sid, ya, yb)]);
  }

  /** Checks the visitor's confirmation; throws ERR_HANDSHAKE_SECRET_MISMATCH if the secrets differ. */
  onConfirm(confirm: Uint8Array): HandshakeResult {
    const p = this.pending;
    if (p === null) throw new BurrowError('ERR_HANDSHAKE_PROTOCOL', 'confirmation before hello');
    this.pending = null;
    const expected = confirmation(p.isk, 'initiator', p.sid, p.ya, p.yb);
    if (!macEqual(Buffer.from(confirm), expected)) throw mismatch();
    return { sessionKey: expand(p.isk, 'burrow session key'), sid: p.sid };
  }
}

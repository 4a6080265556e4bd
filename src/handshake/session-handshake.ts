import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULT_AEAD, negotiateAead, type AeadAlgorithm } from '../crypto/aead.js';
import { BurrowError } from '../errors.js';
import type { Role } from '../role.js';
import { CPACE_POINT_LENGTH, cpaceFinish, cpaceShare, randomScalar, type CpaceShare } from './cpace.js';

/**
 * The end-to-end handshake between a visitor (initiator) and a provider
 * (responder), carried opaquely by the rendezvous:
 *
 *   visitor  -> hello   = version u8 | sid (16) | Ya (32) | offer u8
 *   provider -> reply   = Yb (32) | provider confirmation (32) | choice u8
 *   visitor  -> confirm = visitor confirmation (32)
 *
 * offer: bit 0 set = the visitor would seal with AES-256-GCM (its CPU has AES
 * instructions); other bits reserved, sent as 0, ignored. choice: the AEAD
 * the provider picked by negotiateAead (0 ChaCha20-Poly1305, 1 AES-256-GCM).
 * Both bytes are in what the confirmations MAC, so a relay that edits either
 * fails the handshake. A hello without the offer byte (a peer from before
 * the negotiation) gets a reply without the choice byte, confirmations over
 * the old transcript, and ChaCha20-Poly1305. A hello with it is refused by
 * such an older provider (its hello must be exactly 49 bytes).
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
/** A hello without the AEAD offer (peers from before the negotiation). */
export const LEGACY_HELLO_LENGTH = 1 + SID_LENGTH + CPACE_POINT_LENGTH;
export const HELLO_LENGTH = LEGACY_HELLO_LENGTH + 1;
/** A reply without the AEAD choice (to a legacy hello). */
export const LEGACY_REPLY_LENGTH = CPACE_POINT_LENGTH + MAC_LENGTH;
export const REPLY_LENGTH = LEGACY_REPLY_LENGTH + 1;
const OFFER_AES = 0x01;
const AEAD_CODES: readonly AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm'];
export const CONFIRM_LENGTH = MAC_LENGTH;

export interface HandshakeParams {
  /** The service secret, as the user typed it. */
  secret: string;
  /** The service name: binds the keys to this service. */
  service: string;
  /** Source of the ephemeral scalar (and of the initiator's default sid). Default: the OS CSPRNG. */
  randomBytes?: (n: number) => Uint8Array;
  /** What this side would seal with (aeadPreference()). Default DEFAULT_AEAD. */
  aead?: AeadAlgorithm;
}

export interface HandshakeResult {
  /** 32 bytes; feed to deriveSessionKeys. */
  sessionKey: Buffer;
  /** Random per session; also names the session in logs and on the relay. */
  sid: Buffer;
  /** The negotiated AEAD; feed to deriveSessionKeys. */
  aead: AeadAlgorithm;
}

function channelId(service: string): Buffer {
  return Buffer.from(`burrow v${HANDSHAKE_VERSION} service=${service}`, 'utf8');
}

function expand(isk: Buffer, label: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', isk, Buffer.alloc(0), Buffer.from(label, 'utf8'), length));
}

/** The transcript's fixed part; `negotiation` is offer | choice, or empty with a legacy hello. */
interface Transcript {
  sid: Buffer;
  ya: Buffer;
  yb: Buffer;
  negotiation: Buffer;
}

function confirmation(isk: Buffer, who: Role, t: Transcript): Buffer {
  // sid, Ya and Yb have fixed lengths, so the variable part last is unambiguous.
  return createHmac('sha256', expand(isk, `burrow confirm ${who}`)).update(t.sid).update(t.ya).update(t.yb).update(t.negotiation).digest();
}

function protocolError(message: string): BurrowError {
  return new BurrowError('ERR_HANDSHAKE_PROTOCOL', message);
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

  private get offer(): number {
    return (this.params.aead ?? DEFAULT_AEAD) === 'aes-256-gcm' ? OFFER_AES : 0;
  }

  hello(): Buffer {
    return Buffer.concat([Buffer.from([HANDSHAKE_VERSION]), this.sid, this.share.point, Buffer.from([this.offer])]);
  }

  /**
   * Processes the provider's reply. Always returns a confirmation to send
   * (so the provider learns of a mismatch too); `result` is the session or
   * the error to report.
   */
  onReply(reply: Uint8Array): { confirm: Buffer; result: HandshakeResult | BurrowError } {
    if (reply.length !== REPLY_LENGTH) {
      const err = protocolError(`handshake reply must be ${REPLY_LENGTH} bytes, got ${reply.length}`);
      return { confirm: Buffer.alloc(CONFIRM_LENGTH), result: err };
    }
    const yb = Buffer.from(reply.subarray(0, CPACE_POINT_LENGTH));
    const theirMac = Buffer.from(reply.subarray(CPACE_POINT_LENGTH, LEGACY_REPLY_LENGTH));
    const choiceCode = reply[LEGACY_REPLY_LENGTH] ?? 0xff;
    const aead = AEAD_CODES[choiceCode];
    const ya = this.share.point;
    let isk: Buffer;
    try {
      isk = cpaceFinish(this.share, yb, this.sid, { initiatorPoint: ya, responderPoint: yb });
    } catch (err) {
      return { confirm: Buffer.alloc(CONFIRM_LENGTH), result: err as BurrowError };
    }
    const t: Transcript = { sid: this.sid, ya, yb, negotiation: Buffer.from([this.offer, choiceCode]) };
    const confirm = confirmation(isk, 'initiator', t);
    if (!macEqual(theirMac, confirmation(isk, 'responder', t))) return { confirm, result: mismatch() };
    // Authenticated, so a bad choice is the provider's own error, not a relay's edit.
    if (aead === undefined || aead !== negotiateAead(this.params.aead ?? DEFAULT_AEAD, aead)) {
      return { confirm, result: protocolError(`the provider chose AEAD code ${choiceCode}, which this visitor did not offer`) };
    }
    return { confirm, result: { sessionKey: expand(isk, 'burrow session key'), sid: this.sid, aead } };
  }
}

export class HandshakeResponder {
  private pending: { isk: Buffer; transcript: Transcript; aead: AeadAlgorithm } | null = null;

  constructor(private readonly params: HandshakeParams) {}

  /** Processes the visitor's hello; returns the reply. Throws on a malformed hello. */
  onHello(hello: Uint8Array): Buffer {
    if (hello[0] !== HANDSHAKE_VERSION) {
      throw protocolError(`unsupported handshake version ${hello[0]} (this provider speaks ${HANDSHAKE_VERSION})`);
    }
    if (hello.length !== HELLO_LENGTH && hello.length !== LEGACY_HELLO_LENGTH) {
      throw protocolError(`handshake hello must be ${HELLO_LENGTH} (or ${LEGACY_HELLO_LENGTH}) bytes, got ${hello.length}`);
    }
    const sid = Buffer.from(hello.subarray(1, 1 + SID_LENGTH));
    const ya = Buffer.from(hello.subarray(1 + SID_LENGTH, LEGACY_HELLO_LENGTH));
    const share = cpaceShare(Buffer.from(this.params.secret, 'utf8'), channelId(this.params.service), sid, randomScalar(this.params.randomBytes));
    const yb = share.point;
    const isk = cpaceFinish(share, ya, sid, { initiatorPoint: ya, responderPoint: yb });
    const offer = hello[LEGACY_HELLO_LENGTH];
    if (offer === undefined) {
      // A peer from before the negotiation: its transcript, its AEAD.
      const transcript: Transcript = { sid, ya, yb, negotiation: Buffer.alloc(0) };
      this.pending = { isk, transcript, aead: DEFAULT_AEAD };
      return Buffer.concat([yb, confirmation(isk, 'responder', transcript)]);
    }
    const theirs: AeadAlgorithm = (offer & OFFER_AES) !== 0 ? 'aes-256-gcm' : 'chacha20-poly1305';
    const aead = negotiateAead(this.params.aead ?? DEFAULT_AEAD, theirs);
    const choice = AEAD_CODES.indexOf(aead);
    const transcript: Transcript = { sid, ya, yb, negotiation: Buffer.from([offer, choice]) };
    this.pending = { isk, transcript, aead };
    return Buffer.concat([yb, confirmation(isk, 'responder', transcript), Buffer.from([choice])]);
  }

  /** Checks the visitor's confirmation; throws ERR_HANDSHAKE_SECRET_MISMATCH if the secrets differ. */
  onConfirm(confirm: Uint8Array): HandshakeResult {
    const p = this.pending;
    if (p === null) throw new BurrowError('ERR_HANDSHAKE_PROTOCOL', 'confirmation before hello');
    this.pending = null;
    const expected = confirmation(p.isk, 'initiator', p.transcript);
    if (!macEqual(Buffer.from(confirm), expected)) throw mismatch();
    return { sessionKey: expand(p.isk, 'burrow session key'), sid: p.transcript.sid, aead: p.aead };
  }
}

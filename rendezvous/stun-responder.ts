/**
 * The rendezvous's STUN Binding responder, sans-I/O: a datagram, where it
 * came from and which of our sockets got it in; a reply (bytes and the socket
 * to send it from) or a counted drop out.
 *
 * Sockets follow RFC 5780's layout: primary address and port, the alternate
 * port on the primary address, and with a second address the same two ports
 * there. CHANGE-REQUEST is honoured only when the socket it asks for exists;
 * otherwise the request is dropped, because an answer from the wrong socket
 * would make the client misread its NAT's filtering.
 *
 * Amplification rule: a response is at most RESPONSE_ALLOWANCE (24) bytes
 * bigger than its request. Attributes go in in priority order, each only if
 * it still fits; a request too small for the mapped address itself gets no
 * answer. Why 24 and not 0 (measured, see README.md): Debian's `stun` sends
 * 28-byte requests and needs MAPPED-ADDRESS and CHANGED-ADDRESS (44 bytes);
 * a bare RFC 8489 request is 20 bytes and needs XOR-MAPPED-ADDRESS (32 bytes,
 * 44 for IPv6). With 0 neither would get an answer. 24 bytes is one address
 * attribute of either family: at worst 20 -> 44 bytes of UDP payload (2.2x),
 * 48 -> 72 bytes on the wire (1.5x), one packet per packet. burrow's own
 * client pads its requests (PADDING) so it gets everything with no growth.
 */
import type { UdpEndpoint } from '../src/net/udp-socket.js';
import { Attr, HEADER_SIZE, isComprehensionRequired, Method } from '../src/stun/constants.js';
import { encodeAddressValue, encodeXorAddressValue } from '../src/stun/address.js';
import { readChangeRequest } from '../src/stun/binding.js';
import { attributeSize, decodeMessage, encodeMessage, hasMagicCookie, type StunAttribute } from '../src/stun/message.js';
import { DEFAULT_STUN_RATE_LIMIT, SourceRateLimiter, type RateLimitOptions } from './stun-rate-limit.js';

export const RESPONSE_ALLOWANCE = 24;

/** One of the (up to) four sockets: [address index][port index] of RFC 5780. */
export type StunSlot = 'primary' | 'altPort' | 'altAddress' | 'altBoth';
export const STUN_SLOTS: readonly StunSlot[] = ['primary', 'altPort', 'altAddress', 'altBoth'];

export interface StunLayout {
  /** Address and port of the primary socket. A wildcard address (0.0.0.0, ::) means "not known": no RESPONSE-ORIGIN. */
  primary: UdpEndpoint;
  /** Port of the alternate-port sockets; null = none. */
  altPort: number | null;
  /** Second local address; null = none (then no OTHER-ADDRESS/CHANGED-ADDRESS and no change-IP answers). */
  altAddress: string | null;
}

export interface StunResponderOptions {
  rateLimit?: RateLimitOptions;
  /** Bytes a response may exceed its request by. Default RESPONSE_ALLOWANCE; 0 = never bigger. */
  allowance?: number;
}

export type StunDropReason =
  | 'malformed'
  | 'not-binding-request'
  | 'unknown-attribute'
  | 'change-unavailable'
  | 'rate-limited'
  | 'too-small';

export type StunDecision = { kind: 'reply'; slot: StunSlot; to: UdpEndpoint; data: Buffer } | { kind: 'drop'; reason: StunDropReason };

export interface StunResponderStats {
  answered: number;
  /** Answers sent from another socket than the request came in on (CHANGE-REQUEST). */
  answeredChanged: number;
  dropped: Record<StunDropReason, number>;
}

/** Attributes a request may carry that we understand (or safely ignore). */
const UNDERSTOOD_IN_REQUEST = new Set<number>([
  Attr.ChangeRequest,
  Attr.Padding,
  Attr.Username,
  Attr.MessageIntegrity,
]);

export class StunResponder {
  private readonly limiter: SourceRateLimiter;
  private readonly allowance: number;
  readonly stats: StunResponderStats = {
    answered: 0,
    answeredChanged: 0,
    dropped: {
      malformed: 0,
      'not-binding-request': 0,
      'unknown-attribute': 0,
      'change-unavailable': 0,
      'rate-limited': 0,
      'too-small': 0,
    },
  };

  constructor(
    private readonly layout: StunLayout,
    opts: StunResponderOptions = {},
  ) {
    this.limiter = new SourceRateLimiter(opts.rateLimit ?? DEFAULT_STUN_RATE_LIMIT);
    this.allowance = opts.allowance ?? RESPONSE_ALLOWANCE;
  }

  /** Which slots this layout has sockets for. */
  slots(): StunSlot[] {
    return STUN_SLOTS.filter((s) => this.endpointOf(s) !== null);
  }

  /** The local endpoint of a slot, or null if the layout has no such socket. */
  endpointOf(slot: StunSlot): UdpEndpoint | null {
    const { primary, altPort, altAddress } = this.layout;
    const usesAltPort = slot === 'altPort' || slot === 'altBoth';
    const usesAltAddress = slot === 'altAddress' || slot === 'altBoth';
    if (usesAltPort && altPort === null) return null;
    if (usesAltAddress && altAddress === null) return null;
    return {
      address: usesAltAddress ? altAddress! : primary.address,
      port: usesAltPort ? altPort! : primary.port,
    };
  }

  /** Handles one datagram that looks like STUN, received on `slot` from `from` at time `now` (ms). */
  handle(data: Uint8Array, from: UdpEndpoint, slot: StunSlot, now: number): StunDecision {
    if (!this.limiter.allow(from.address, now)) return this.drop('rate-limited');
    const decoded = decodeMessage(data);
    if (!decoded.ok) return this.drop('malformed');
    const req = decoded.message;
    if (req.method !== Method.Binding || req.cls !== 'request') return this.drop('not-binding-request');
    // RESPONSE-ADDRESS / RESPONSE-PORT would aim our answer elsewhere: never.
    if (req.attributes.some((a) => isComprehensionRequired(a.type) && !UNDERSTOOD_IN_REQUEST.has(a.type))) {
      return this.drop('unknown-attribute');
    }
    const change = readChangeRequest(req);
    if (change === 'malformed') return this.drop('malformed');
    const replySlot = flip(slot, change.ip, change.port);
    const replyFrom = this.endpointOf(replySlot);
    if (replyFrom === null) return this.drop('change-unavailable');

    const modern = hasMagicCookie(req.id);
    const candidates: StunAttribute[] = [];
    const add = (type: number, value: Uint8Array | null) => {
      if (value !== null) candidates.push({ type, value });
    };
    const other = this.endpointOf(flip(slot, true, true));
    const origin = isWildcard(replyFrom.address) ? null : replyFrom;
    // Priority order: what the client cannot do without first.
    if (modern) {
      add(Attr.XorMappedAddress, encodeXorAddressValue(from, req.id));
      if (this.layout.altAddress !== null && other) add(Attr.OtherAddress, encodeAddressValue(other));
      if (origin) add(Attr.ResponseOrigin, encodeAddressValue(origin));
      add(Attr.MappedAddress, encodeAddressValue(from));
    } else {
      add(Attr.MappedAddress, encodeAddressValue(from));
      if (this.layout.altAddress !== null && other) add(Attr.ChangedAddress, encodeAddressValue(other));
      if (origin) add(Attr.SourceAddress, encodeAddressValue(origin));
    }
    const budget = data.length + this.allowance;
    const first = candidates[0];
    if (first === undefined || HEADER_SIZE + attributeSize(first.value.length) > budget) return this.drop('too-small');
    const chosen: StunAttribute[] = [];
    let size = HEADER_SIZE;
    for (const a of candidates) {
      const n = attributeSize(a.value.length);
      if (size + n > budget) continue;
      chosen.push(a);
      size += n;
    }
    const fingerprint = modern && size + 8 <= budget;
    const reply = encodeMessage({ method: Method.Binding, cls: 'success', id: req.id, attributes: chosen }, { fingerprint });
    this.stats.answered++;
    if (replySlot !== slot) this.stats.answeredChanged++;
    return { kind: 'reply', slot: replySlot, to: { address: from.address, port: from.port }, data: reply };
  }

  /** Sources the rate limiter remembers now. */
  get trackedSources(): number {
    return this.limiter.size;
  }

  private drop(reason: StunDropReason): StunDecision {
    this.stats.dropped[reason]++;
    return { kind: 'drop', reason };
  }
}

/** The slot a reply comes from when the client asks to change IP and/or port. */
export function flip(slot: StunSlot, changeIp: boolean, changePort: boolean): StunSlot {
  let ip = slot === 'altAddress' || slot === 'altBoth' ? 1 : 0;
  let port = slot === 'altPort' || slot === 'altBoth' ? 1 : 0;
  if (changeIp) ip ^= 1;
  if (changePort) port ^= 1;
  return ip ? (port ? 'altBoth' : 'altAddress') : port ? 'altPort' : 'primary';
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}


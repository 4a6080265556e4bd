/**
 * First byte of every datagram burrow sends on a peer's UDP socket.
 *
 * One socket carries STUN, punch probes and session packets (a NAT mapping
 * belongs to a socket), so the first byte tells them apart. STUN messages
 * always start with the two top bits clear (0x00-0x3f); ours all have the
 * top bit set, so a STUN packet can never be mistaken for one of ours.
 */
export const PacketKind = {
  /** An encrypted session packet: KCP segments sealed with the session's AEAD. */
  Session: 0xb1,
  /** A punch probe, ack, prime or path keepalive, authenticated with the punch key (src/punch). */
  Probe: 0xb2,
  /**
   * A sealed record on a relay link (never on a UDP socket): the session's
   * byte stream in large pieces over TCP, with its own keys and counters.
   */
  Record: 0xb3,
  /**
   * An unreliable datagram of a UDP service, sealed on its own (own keys and
   * replay window) beside the session's KCP packets: never retransmitted,
   * never ordered, never stuck behind a stream.
   */
  Datagram: 0xb4,
} as const;

/** The kinds a session's UDP packets carry (a sealer or opener serves one of them). */
export type SessionPacketKind = typeof PacketKind.Session | typeof PacketKind.Datagram;

export type PacketKindValue = (typeof PacketKind)[keyof typeof PacketKind];

/** True for the first byte of a STUN message (RFC 8489 section 6). */
export function looksLikeStun(firstByte: number): boolean {
  return (firstByte & 0xc0) === 0;
}

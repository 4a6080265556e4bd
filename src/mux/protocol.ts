/**
 * Wire-level constants of burrow's stream multiplexer (a yamux-like format).
 * Kept apart from the codec and the session so both can agree on numbers
 * without importing each other.
 *
 * Frame: 12-byte big-endian header
 *   version u8 | type u8 | flags u16 | stream id u32 | length u32
 * followed by `length` payload bytes for DATA only. For the other types the
 * length field carries a value: WINDOW_UPDATE = credit delta (or, with RST,
 * a reset reason), PING = opaque echo value, GO_AWAY = reason code.
 */

/** Our own version byte; a peer speaking anything else is refused. */
export const MUX_VERSION = 1;

export const HEADER_LENGTH = 12;

export const FrameType = {
  Data: 0,
  WindowUpdate: 1,
  Ping: 2,
  GoAway: 3,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const Flag = {
  SYN: 1,
  ACK: 2,
  FIN: 4,
  RST: 8,
} as const;

/** Every flag bit version 1 defines; any other bit set is a protocol error. */
export const KNOWN_FLAGS = Flag.SYN | Flag.ACK | Flag.FIN | Flag.RST;

export const MAX_U32 = 0xffff_ffff;

/**
 * Credit each side may send on a new stream before hearing anything from
 * the peer (yamux's figure). It is a protocol constant, not an option: the
 * opener sends eagerly, before any WINDOW_UPDATE could have told it the
 * peer's preference. A receiver configured with a bigger window grants the
 * difference with its first frame; one configured with a smaller window
 * simply withholds grants until its buffer is back under its own limit.
 */
export const INITIAL_STREAM_WINDOW = 256 * 1024;

/** Default cap on one DATA frame's payload. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 16 * 1024;

/**
 * Reset reasons, carried in the length field of a WINDOW_UPDATE|RST frame
 * (yamux leaves it unused). They let an opener tell "refused" from "reset"
 * and surface a precise error code. Unknown values are read as RESET.
 */
export const ResetReason = {
  Reset: 0,
  RefusedTooManyStreams: 1,
  RefusedGoAway: 2,
} as const;

/** GO_AWAY codes (yamux's): normal, protocol error, internal error. */
export const GoAwayCode = {
  Normal: 0,
  ProtocolError: 1,
  InternalError: 2,
} as const;

/**
 * The error codes carried in control messages (`error`, `connect-failed`,
 * `refuse`), defined once for both ends. The strings are the wire format:
 * never rename one, only add.
 */
export const ControlErrorCode = {
  // Rendezvous -> peer, on the control connection (`error`).
  /** Anything but login or relay-join before login. */
  NOT_LOGGED_IN: 'NOT_LOGGED_IN',
  /** A message the peer's role or state does not allow. */
  PROTOCOL: 'PROTOCOL',
  /** The login proof does not match the rendezvous token. */
  BAD_TOKEN: 'BAD_TOKEN',
  /** A relay-join with an unknown, expired or already used ticket. */
  BAD_TICKET: 'BAD_TICKET',
  TOO_MANY_SERVICES: 'TOO_MANY_SERVICES',
  /** The rendezvous's registry has no room. */
  FULL: 'FULL',
  NAME_TAKEN: 'NAME_TAKEN',
  // Session setup (`connect-failed`, and the provider's `refuse`).
  NO_SUCH_SERVICE: 'NO_SUCH_SERVICE',
  BUSY: 'BUSY',
  TIMEOUT: 'TIMEOUT',
  PROVIDER_GONE: 'PROVIDER_GONE',
  /** The end-to-end handshake failed at the provider. */
  HANDSHAKE: 'HANDSHAKE',
  SECRET_MISMATCH: 'SECRET_MISMATCH',
  /** The provider could not set its side of the session up (e.g. an invalid session tuning). */
  SETUP_FAILED: 'SETUP_FAILED',
  /** The visitor asked for UDP and the service is TCP, or the other way round. */
  PROTO_MISMATCH: 'PROTO_MISMATCH',
} as const;

export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** Every code, for the schema (a non-empty tuple, as z.enum wants). */
export const CONTROL_ERROR_CODES = Object.values(ControlErrorCode) as [ControlErrorCode, ...ControlErrorCode[]];

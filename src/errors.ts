/**
 * Every error burrow raises carries a stable `code`, so callers (and users'
 * scripts reading JSON logs) can branch on it without parsing messages.
 */
export type BurrowErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  /** An index burrow proved valid was not: a bug in burrow, never bad input. */
  | 'ERR_INTERNAL'
  | 'ERR_KCP_MESSAGE_TOO_LARGE'
  | 'ERR_KCP_DEAD_LINK'
  | 'ERR_KCP_RELEASED'
  | 'ERR_MUX_PROTOCOL'
  | 'ERR_MUX_CLOSED'
  | 'ERR_MUX_GOAWAY'
  | 'ERR_MUX_TOO_MANY_STREAMS'
  | 'ERR_MUX_TIMEOUT'
  | 'ERR_STREAM_RESET'
  | 'ERR_CRYPTO_KEY'
  | 'ERR_CRYPTO_COUNTER_EXHAUSTED'
  | 'ERR_SESSION_DEAD'
  | 'ERR_SESSION_CLOSED'
  /** An authenticated peer broke the session's byte-offset protocol (a gap, an ACK beyond what was sent, a corrupt frame). */
  | 'ERR_SESSION_PROTOCOL'
  | 'ERR_HANDSHAKE_INVALID_POINT'
  | 'ERR_HANDSHAKE_SECRET_MISMATCH'
  | 'ERR_HANDSHAKE_PROTOCOL'
  | 'ERR_RENDEZVOUS_TOKEN'
  | 'ERR_CONNECT_FAILED'
  | 'ERR_CONFIG'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_SOCKET_BIND'
  /** A router's port-mapping answer (NAT-PMP, PCP, SSDP, UPnP XML/SOAP) that does not parse. */
  | 'ERR_PORTMAP_MALFORMED'
  /** The router answered but refused the request (a result code or a UPnP error). */
  | 'ERR_PORTMAP_REFUSED'
  /** No answer from the router in time (or the HTTP connection failed). */
  | 'ERR_PORTMAP_UNREACHABLE'
  /** The rendezvous cluster's Redis does not answer, or this node holds no lease. */
  | 'ERR_CLUSTER_UNAVAILABLE'
  /** A node asked to claim more names than its limit. */
  | 'ERR_CLUSTER_LIMIT';

export class BurrowError extends Error {
  readonly code: BurrowErrorCode;

  constructor(code: BurrowErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BurrowError';
    this.code = code;
  }
}

export function isBurrowError(err: unknown, code?: BurrowErrorCode): err is BurrowError {
  return err instanceof BurrowError && (code === undefined || err.code === code);
}

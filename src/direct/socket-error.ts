/**
 * What a UDP socket error means for the direct path.
 *
 * Most errors belong to one datagram: ICMP unreachable reported on a later
 * send, a firewall refusing one destination, a full buffer, a datagram too
 * big. The path carries on (KCP retransmits, probes go elsewhere). A few
 * say the socket itself is unusable (closed under us, bad descriptor): the
 * attempt or path on it ends, and the session falls back to the relay and
 * punches again with a fresh socket.
 */
export interface SocketErrorClass {
  /** The error's code (EHOSTUNREACH, ...), or 'UNKNOWN' when it has none. */
  code: string;
  fatal: boolean;
  /** For logs: code and message. */
  reason: string;
}

/**
 * Errors that say the socket is gone. Everything else is taken as
 * per-datagram (EHOSTUNREACH, EPERM from a firewall, EMSGSIZE, a bad
 * destination port...): ending a working path on an error we do not know
 * would do more harm than carrying on.
 */
const FATAL = new Set(['ERR_SOCKET_DGRAM_NOT_RUNNING', 'ERR_SOCKET_CLOSED', 'EBADF', 'ENOTSOCK', 'ENXIO']);

export function classifySocketError(err: unknown): SocketErrorClass {
  const e = err instanceof Error ? err : new Error(String(err));
  const raw = (e as { code?: unknown }).code;
  const code = typeof raw === 'string' && raw.length > 0 ? raw : 'UNKNOWN';
  return { code, fatal: FATAL.has(code), reason: `${code}: ${e.message}` };
}

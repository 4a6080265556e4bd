/**
 * Which end of a tunnel session a peer is: the visitor initiates (it sends
 * the handshake's first message), the provider responds. Everything split per
 * direction keys off it (session keys, punch keys, the handshake's
 * confirmation labels, the mux's odd/even stream ids), so both ends must hold
 * opposite roles. Lives at the root of src/ because every layer uses it.
 */
export type Role = 'initiator' | 'responder';

/** For options from untyped callers (JavaScript, parsed config). */
export function isRole(value: unknown): value is Role {
  return value === 'initiator' || value === 'responder';
}

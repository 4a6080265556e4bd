import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Rendezvous login by challenge-response: the token never crosses the wire.
 * The server's fresh nonce makes every proof single-use (replay-proof); the
 * client's nonce lets the client check the server's proof in turn, so a
 * peer knows it reached a rendezvous that holds the token too.
 */
export const NONCE_LENGTH = 32;

export function newNonce(): Buffer {
  return randomBytes(NONCE_LENGTH);
}

function proof(token: string, label: string, serverNonce: Uint8Array, clientNonce: Uint8Array, role: string): Buffer {
  return createHmac('sha256', Buffer.from(token, 'utf8'))
    .update(`burrow login v1 ${label} ${role}\0`)
    .update(serverNonce)
    .update(clientNonce)
    .digest();
}

export function clientProof(token: string, serverNonce: Uint8Array, clientNonce: Uint8Array, role: string): Buffer {
  return proof(token, 'client', serverNonce, clientNonce, role);
}

export function serverProof(token: string, serverNonce: Uint8Array, clientNonce: Uint8Array, role: string): Buffer {
  return proof(token, 'server', serverNonce, clientNonce, role);
}

/** Constant-time comparison; false for different lengths. */
export function proofsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

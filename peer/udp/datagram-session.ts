/**
 * What UDP flows need of a tunnel session: its datagram channel (see
 * TunnelSession.sendDatagram) and its end. A TunnelSession is one; tests
 * drive the flow shells with a stand-in.
 */
export type DatagramSendResult = 'sent' | 'too-big' | 'no-path' | 'congested' | 'closed';

export interface DatagramSession {
  sendDatagram(payload: Uint8Array): DatagramSendResult;
  /** Largest payload sendDatagram accepts on the current path (0 while there is none). */
  readonly datagramLimit: number;
  readonly closed: boolean;
  on(event: 'datagram', listener: (payload: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'datagram', listener: (payload: Buffer) => void): unknown;
}

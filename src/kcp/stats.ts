/** Counters a connection keeps; plain numbers so the session can log them as JSON. */
export interface KcpStats {
  /** PUSH segments transmitted, retransmissions included. */
  segmentsSent: number;
  /** New PUSH segments accepted into the receive window (duplicates excluded). */
  segmentsReceived: number;
  /** All retransmissions: timeout and fast. */
  retransmits: number;
  /** Retransmissions triggered by `resend` later ACKs. */
  fastRetransmits: number;
  /** Retransmissions triggered by the segment's RTO expiring. */
  lostSegments: number;
  /** Datagrams refused as malformed. */
  malformed: number;
  /** Datagrams refused because a segment carried another conversation id. */
  wrongConv: number;
  /** PUSH segments received again (already buffered or already delivered). */
  duplicates: number;
  /** PUSH segments dropped because they lie beyond the receive window. */
  outOfWindow: number;
  /** Datagrams handed to `output`. */
  datagramsOut: number;
  /** Datagrams fed to `input`, refused ones included. */
  datagramsIn: number;
  acksSent: number;
  acksReceived: number;
  /** Window probes (WASK) sent. */
  probesSent: number;
  /** Window tells (WINS) sent. */
  windowTells: number;
  /** Payload bytes accepted by send(). */
  bytesSent: number;
  /** Payload bytes returned by recv(). */
  bytesReceived: number;
}

export function createKcpStats(): KcpStats {
  return {
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    lostSegments: 0,
    malformed: 0,
    wrongConv: 0,
    duplicates: 0,
    outOfWindow: 0,
    datagramsOut: 0,
    datagramsIn: 0,
    acksSent: 0,
    acksReceived: 0,
    probesSent: 0,
    windowTells: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
}

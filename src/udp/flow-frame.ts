/**
 * A UDP flow's datagram on a session: `flowId u32 BE | payload`. The flow
 * id tells the provider which of its target sockets the payload is for and
 * the visitor which client a reply goes back to.
 */
export const FLOW_HEADER_BYTES = 4;
export const MAX_FLOW_ID = 0xffff_ffff;

export function encodeFlowDatagram(flowId: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FLOW_HEADER_BYTES + payload.length);
  out.writeUInt32BE(flowId, 0);
  out.set(payload, FLOW_HEADER_BYTES);
  return out;
}

/** null when the datagram is too short to hold a flow id (malformed: the caller drops and counts it). */
export function decodeFlowDatagram(datagram: Buffer): { flowId: number; payload: Buffer } | null {
  if (datagram.length < FLOW_HEADER_BYTES) return null;
  return { flowId: datagram.readUInt32BE(0), payload: datagram.subarray(FLOW_HEADER_BYTES) };
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { normaliseAddress } from '../net/endpoint.js';
import { bytesToIp, ipToBytes } from '../net/ip.js';
import type { UdpEndpoint } from '../net/udp-socket.js';
import { PacketKind } from '../wire/packet-kind.js';

/**
 * Punch probes and path keepalives. Every one is authenticated (truncated
 * HMAC-SHA256 with the sender's direction key), so a packet from anyone but
 * the peer is dropped before it can influence which endpoint is locked.
 *
 *   0  u8   kind 0xb2
 *   1  u8   type (ProbeType)
 *   2  8B   session tag
 *   10 u32  sequence number (sender's counter, for logs)
 *   14 8B   nonce (random per packet; an ack echoes it)
 *   22 8B   echoed nonce (acks), zero otherwise
 *   30 u8   address family of `endpoint` (4, 6, or 0 = none)
 *   31 16B  address (IPv4 in the first 4 bytes)
 *   47 u16  port
 *   49 16B  MAC over bytes 0..48
 *
 * `endpoint` is where a probe was aimed, or, in an ack, where the answered
 * probe came from: the prober's address as the peer sees it. An IPv4-mapped
 * IPv6 address (what a dual-stack socket reports) goes out as family 4, so it
 * decodes as the plain IPv4 address; IPv6 decodes in its RFC 5952 form.
 *
 * Nothing steers by it: the receiver already knows where a packet came from
 * (the socket tells it), and a peer's claim must not move the locked path.
 * It is read only for the punch timeline (an ack's endpoint that differs
 * from our server-reflexive address shows the NAT gave the punch a new port,
 * the symptom of the conntrack race), and it stays on the wire, under the
 * MAC, so probes keep their size and format between versions.
 */
export const ProbeType = {
  /** Low-TTL packet that opens the sender's own NAT mapping and dies in the core. */
  Prime: 1,
  Probe: 2,
  Ack: 3,
  Keepalive: 4,
  KeepaliveAck: 5,
} as const;
export type ProbeTypeValue = (typeof ProbeType)[keyof typeof ProbeType];

export const PROBE_LENGTH = 65;
const MAC_OFFSET = 49;
const MAC_LENGTH = 16;
const ZERO_NONCE = Buffer.alloc(8);

export interface ProbePacket {
  type: ProbeTypeValue;
  seq: number;
  nonce: Buffer;
  echo: Buffer;
  endpoint: UdpEndpoint | null;
}

export function encodeProbe(p: ProbePacket, tag: Buffer, key: Buffer): Buffer {
  const b = Buffer.alloc(PROBE_LENGTH);
  b[0] = PacketKind.Probe;
  b[1] = p.type;
  tag.copy(b, 2, 0, 8);
  b.writeUInt32BE(p.seq >>> 0, 10);
  p.nonce.copy(b, 14, 0, 8);
  (p.echo.length === 8 ? p.echo : ZERO_NONCE).copy(b, 22);
  if (p.endpoint !== null) writeEndpoint(b, p.endpoint);
  mac(key, b).copy(b, MAC_OFFSET);
  return b;
}

export type ProbeDecode =
  | { ok: true; packet: ProbePacket }
  | { ok: false; reason: 'length' | 'kind' | 'type' | 'tag' | 'mac' | 'endpoint' };

/** Checks length, kind, tag and MAC before reading any field. Never throws. */
export function decodeProbe(b: Buffer, tag: Buffer, key: Buffer): ProbeDecode {
  if (b.length !== PROBE_LENGTH) return { ok: false, reason: 'length' };
  if (b[0] !== PacketKind.Probe) return { ok: false, reason: 'kind' };
  if (!b.subarray(2, 10).equals(tag)) return { ok: false, reason: 'tag' };
  if (!timingSafeEqual(mac(key, b), b.subarray(MAC_OFFSET))) return { ok: false, reason: 'mac' };
  const type = b.readUInt8(1);
  if (type < ProbeType.Prime || type > ProbeType.KeepaliveAck) return { ok: false, reason: 'type' };
  const endpoint = readEndpoint(b);
  if (endpoint === undefined) return { ok: false, reason: 'endpoint' };
  return {
    ok: true,
    packet: {
      type: type as ProbeTypeValue,
      seq: b.readUInt32BE(10),
      nonce: Buffer.from(b.subarray(14, 22)),
      echo: Buffer.from(b.subarray(22, 30)),
      endpoint,
    },
  };
}

function mac(key: Buffer, b: Buffer): Buffer {
  return createHmac('sha256', key).update(b.subarray(0, MAC_OFFSET)).digest().subarray(0, MAC_LENGTH);
}

function writeEndpoint(b: Buffer, e: UdpEndpoint): void {
  const ip = ipToBytes(e.address);
  // Not an IP literal: family 0, "no endpoint", as for null.
  if (ip === null) return;
  b[30] = ip.length === 4 ? 4 : 6;
  b.set(ip, 31);
  b.writeUInt16BE(e.port & 0xffff, 47);
}

/** undefined = malformed; null = no endpoint. */
function readEndpoint(b: Buffer): UdpEndpoint | null | undefined {
  const family = b[30];
  const port = b.readUInt16BE(47);
  if (family === 0) return null;
  if (family === 4) return { address: bytesToIp(b.subarray(31, 35)), port };
  // An IPv4-mapped address that arrives as family 6 still reads as the IPv4 address.
  if (family === 6) return { address: normaliseAddress(bytesToIp(b.subarray(31, 47))), port };
  return undefined;
}

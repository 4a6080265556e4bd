/**
 * A router's NAT-PMP (RFC 6886) and PCP (RFC 6887) server, sans-I/O, after
 * miniupnpd 2.3.1 (the kernel lane's router, test/portmap/): a request's
 * bytes, its sender and the time in; the answer's bytes out, and port
 * forwards added to or removed from the NAT through `ForwardTable`.
 *
 * What it copies from miniupnpd:
 * - The external port is the suggested one, else the internal port; a port
 *   held by another client's forward is skipped upwards (wrapping, never 0,
 *   only 1024-65535 as the lab's `allow` line); the client's own forward on it
 *   is replaced. NAT-PMP grants the lifetime asked for; PCP clamps it to
 *   120..86400 s. Expired forwards are deleted (`poll`).
 * - Epoch: whole seconds since the table started; `restart` loses the table
 *   and starts the epoch again from 0.
 * - Deleting (lifetime 0): NAT-PMP deletes the client's NAT-PMP forwards of
 *   that internal port and says success even if none; PCP deletes the first
 *   forward of that internal endpoint if the nonce matches (NOT_AUTHORIZED if
 *   not, NO_RESOURCES if there is none).
 * - A WAN address in reserved space (another NAT above): NAT-PMP's external
 *   address request and map answer NETWORK_FAILURE (3) (the address 0.0.0.0);
 *   PCP MAP answers NO_RESOURCES (lifetime 30) still naming the WAN address.
 * - Error lifetimes: 0 for the "long" PCP errors, 30 s for NO_RESOURCES.
 *
 * Switchable alone: with NAT-PMP off, version-0 requests get PCP's
 * UNSUPP_VERSION (version 2, RFC 6887 section 9); with PCP off, other
 * versions get NAT-PMP's "unsupported version" (1), as a NAT-PMP-only
 * router answers. Only UDP mappings (the lane has no TCP NAT state): NAT-PMP
 * opcode 2 gets "unsupported opcode", PCP protocol 6 UNSUPP_PROTOCOL.
 * Malformed requests are dropped and counted (`stats.dropped`), as
 * miniupnpd drops them. No THIRD_PARTY/PREFER_FAILURE options, no PEER.
 */
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { u8 } from '../../src/util/bytes.js';
import { inCidr, ipToInt, isIpv4, parseCidr } from './packet.js';

export const PORTMAP_SERVER_PORT = 5351;

/** What the server needs of the NAT: DNAT rules. */
export interface ForwardTable {
  addForward(externalPort: number, internal: UdpEndpoint): void;
  removeForward(externalPort: number, now: number): boolean;
}

export interface PortMapServerOptions {
  natpmp: boolean;
  pcp: boolean;
  /** The address the router reports as its external one (its WAN interface). */
  wanAddress: string;
  /** External ports it may forward (miniupnpd's `allow` line). Default 1024..65535. */
  portRange?: { min: number; max: number };
  /** Most forwards at once; past it new ones are refused (out of resources). Default 256. */
  maxLeases?: number;
}

export type PortMapLeaseProtocol = 'natpmp' | 'pcp';

/** One forward the server made. */
export interface PortMapLease {
  readonly protocol: PortMapLeaseProtocol;
  readonly internal: UdpEndpoint;
  readonly externalPort: number;
  /** Virtual ms. */
  readonly expiresAt: number;
  /** PCP's mapping nonce (hex); null for NAT-PMP. */
  readonly nonce: string | null;
}

export interface PortMapServerStats {
  /** Requests answered, per protocol (refusals included). */
  natpmp: number;
  pcp: number;
  /** Datagrams dropped unanswered (too short, a response, malformed). */
  dropped: number;
  mapped: number;
  deleted: number;
  expired: number;
  refused: number;
}

/**
 * Reserved space as miniupnpd 2.3.1's addr_is_reserved, except the three
 * documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24): the
 * in-process lane's "internet" lives there, so a router there must forward.
 */
const RESERVED = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.31.196.0/24',
  '192.52.193.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '192.175.48.0/24',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(parseCidr);

/** Whether miniupnpd would refuse to forward on this WAN address (see RESERVED). */
export function wanAddressReserved(address: string): boolean {
  const a = ipToInt(address);
  return RESERVED.some((r) => inCidr(a, r.net, r.len));
}

const NATPMP = { unsupportedVersion: 1, refused: 2, networkFailure: 3, outOfResources: 4, unsupportedOpcode: 5 } as const;
const PCP = {
  success: 0,
  unsupportedVersion: 1,
  notAuthorized: 2,
  malformedRequest: 3,
  unsupportedOpcode: 4,
  noResources: 8,
  unsupportedProtocol: 9,
  addressMismatch: 12,
} as const;
const PCP_HEADER = 24;
const PCP_MAP_BODY = 36;
const PCP_MAX = 1100;
const IPPROTO_UDP = 17;
const PCP_LIFETIME = { min: 120, max: 86_400 } as const;
/** PCP error lifetimes (RFC 6887 section 7.4; miniupnpd's values). */
const PCP_SHORT_ERROR_LIFETIME = 30;

type Pick = { ok: true; port: number } | { ok: false; why: 'none-allowed' | 'none-free' };

export class PortMapServer {
  readonly stats: PortMapServerStats = { natpmp: 0, pcp: 0, dropped: 0, mapped: 0, deleted: 0, expired: 0, refused: 0 };
  private readonly leaseByPort = new Map<number, PortMapLease>();
  private epochOrigin: number;
  private readonly range: { min: number; max: number };
  private readonly maxLeases: number;
  readonly reserved: boolean;

  constructor(
    private readonly opts: PortMapServerOptions,
    private readonly forwards: ForwardTable,
    now: number,
  ) {
    if (!opts.natpmp && !opts.pcp) throw new Error('a port-mapping server needs NAT-PMP or PCP');
    if (!isIpv4(opts.wanAddress)) throw new Error(`bad WAN address ${opts.wanAddress}`);
    this.range = opts.portRange ?? { min: 1024, max: 65535 };
    if (!Number.isInteger(this.range.min) || !Number.isInteger(this.range.max) || this.range.min < 1 || this.range.max > 65535 || this.range.min > this.range.max) {
      throw new Error(`bad port range ${this.range.min}..${this.range.max}`);
    }
    this.maxLeases = opts.maxLeases ?? 256;
    this.reserved = wanAddressReserved(opts.wanAddress);
    this.epochOrigin = now;
  }

  /** Seconds since the table started (the epoch both protocols report). */
  epoch(now: number): number {
    return Math.max(0, Math.floor((now - this.epochOrigin) / 1000));
  }

  /** Forwards in force, by external port. */
  leases(): PortMapLease[] {
    return [...this.leaseByPort.values()].sort((a, b) => a.externalPort - b.externalPort);
  }

  /** When the next forward expires, if any. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const l of this.leaseByPort.values()) if (next === null || l.expiresAt < next) next = l.expiresAt;
    return next;
  }

  /** Deletes the forwards whose lifetime ran out. */
  poll(now: number): void {
    for (const l of [...this.leaseByPort.values()]) {
      if (l.expiresAt > now) continue;
      this.drop(l, now);
      this.stats.expired++;
    }
  }

  /** The daemon restarted: its table (and every forward it wrote) is gone, the epoch starts again. */
  restart(now: number): void {
    for (const l of [...this.leaseByPort.values()]) this.drop(l, now);
    this.epochOrigin = now;
  }

  /** A datagram to the router's port 5351 from `from` (a LAN host). Returns the answer, or null (dropped). */
  handle(data: Uint8Array, from: UdpEndpoint, now: number): Buffer | null {
    this.poll(now);
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (b.length < 2 || (u8(b, 1) & 0x80) !== 0) return this.dropped();
    if (b[0] === 0 && this.opts.natpmp) return this.natpmp(b, from, now);
    if (b[0] !== 0 && !this.opts.pcp) return this.natpmpVersionRefused(b, now);
    return this.pcp(b, from, now);
  }

  private dropped(): null {
    this.stats.dropped++;
    return null;
  }

  private drop(l: PortMapLease, now: number): void {
    this.leaseByPort.delete(l.externalPort);
    this.forwards.removeForward(l.externalPort, now);
  }

  private add(protocol: PortMapLeaseProtocol, internal: UdpEndpoint, port: number, lifetimeSeconds: number, nonce: string | null, now: number): void {
    this.leaseByPort.set(port, { protocol, internal, externalPort: port, expiresAt: now + lifetimeSeconds * 1000, nonce });
    this.forwards.addForward(port, internal);
    this.stats.mapped++;
  }

  /**
   * miniupnpd's search: from `start` upwards, skipping ports outside the
   * allowed range and ports forwarded to someone else; the client's own
   * forward on a port is deleted and the port reused.
   */
  private pickPort(start: number, internal: UdpEndpoint, now: number): Pick {
    const full = this.leaseByPort.size >= this.maxLeases;
    let port = start;
    let anyAllowed = false;
    for (let i = 0; i < 65535; i++) {
      if (port >= this.range.min && port <= this.range.max) {
        anyAllowed = true;
        const held = this.leaseByPort.get(port);
        // A full table still lets a client replace its own forward (a refresh), never add one.
        if (held === undefined) {
          if (full) return { ok: false, why: 'none-free' };
          return { ok: true, port };
        }
        if (held.internal.address === internal.address && held.internal.port === internal.port) {
          this.drop(held, now);
          return { ok: true, port };
        }
      }
      port = port === 65535 ? 1 : port + 1;
    }
    return { ok: false, why: anyAllowed ? 'none-free' : 'none-allowed' };
  }

  // --- NAT-PMP ---------------------------------------------------------------

  private natpmpHeader(op: number, result: number, now: number, length: number): Buffer {
    const r = Buffer.alloc(length);
    r[1] = 128 + op;
    r.writeUInt16BE(result, 2);
    r.writeUInt32BE(this.epoch(now), 4);
    return r;
  }

  private natpmpVersionRefused(b: Buffer, now: number): Buffer {
    this.stats.natpmp++;
    this.stats.refused++;
    return this.natpmpHeader(u8(b, 1), NATPMP.unsupportedVersion, now, 8);
  }

  private natpmp(b: Buffer, from: UdpEndpoint, now: number): Buffer | null {
    const op = u8(b, 1);
    if ((op === 1 || op === 2) && b.length < 12) return this.dropped();
    this.stats.natpmp++;
    if (op === 0) {
      const r = this.natpmpHeader(0, 0, now, 12);
      if (this.reserved) {
        r.writeUInt16BE(NATPMP.networkFailure, 2);
        this.stats.refused++;
      } else {
        Buffer.from(this.opts.wanAddress.split('.').map(Number)).copy(r, 8);
      }
      return r;
    }
    if (op !== 1) {
      this.stats.refused++;
      return this.natpmpHeader(op, NATPMP.unsupportedOpcode, now, 8);
    }
    const internalPort = b.readUInt16BE(4);
    let externalPort = b.readUInt16BE(6);
    const lifetime = b.readUInt32BE(8);
    const internal = { address: from.address, port: internalPort };
    let result = 0;
    if (lifetime === 0) {
      // RFC 6886 section 3.4: the suggested port is ignored; internal port 0 = all of this client's.
      externalPort = 0;
      for (const l of this.leases()) {
        if (l.protocol !== 'natpmp' || l.internal.address !== from.address || (internalPort !== 0 && l.internal.port !== internalPort)) continue;
        this.drop(l, now);
        this.stats.deleted++;
      }
    } else if (internalPort === 0) {
      result = NATPMP.refused;
    } else {
      const pick = this.pickPort(externalPort === 0 ? internalPort : externalPort, internal, now);
      if (!pick.ok) {
        result = pick.why === 'none-allowed' ? NATPMP.refused : NATPMP.outOfResources;
      } else {
        externalPort = pick.port;
        if (this.reserved) result = NATPMP.networkFailure;
        else this.add('natpmp', internal, externalPort, lifetime, null, now);
      }
    }
    if (result !== 0) this.stats.refused++;
    const r = this.natpmpHeader(1, result, now, 16);
    r.writeUInt16BE(internalPort, 8);
    r.writeUInt16BE(externalPort === 0 && lifetime !== 0 ? internalPort : externalPort, 10);
    r.writeUInt32BE(lifetime, 12);
    return r;
  }

  // --- PCP -------------------------------------------------------------------

  /** A response: the request's header turned round, then (for MAP) its body with the assigned port and address. */
  private pcpAnswer(req: Buffer, result: number, lifetime: number, now: number, body?: { externalPort: number; externalAddress: string }): Buffer {
    this.stats.pcp++;
    if (result !== PCP.success) this.stats.refused++;
    const op = u8(req, 1) & 0x7f;
    const withBody = body !== undefined && op === 1 && req.length >= PCP_HEADER + PCP_MAP_BODY;
    const r = Buffer.alloc(withBody ? PCP_HEADER + PCP_MAP_BODY : PCP_HEADER);
    r[0] = 2;
    r[1] = op | 0x80;
    r[3] = result;
    r.writeUInt32BE(lifetime, 4);
    r.writeUInt32BE(this.epoch(now), 8);
    if (withBody) {
      req.copy(r, PCP_HEADER, PCP_HEADER, PCP_HEADER + PCP_MAP_BODY);
      r.writeUInt16BE(body.externalPort, PCP_HEADER + 18);
      writeMapped(r, PCP_HEADER + 20, body.externalAddress);
    }
    return r;
  }

  private pcp(b: Buffer, from: UdpEndpoint, now: number): Buffer | null {
    if (b[0] !== 2) return this.pcpAnswer(b, PCP.unsupportedVersion, 0, now);
    if (b.length < PCP_HEADER) return this.dropped();
    if (b.length > PCP_MAX || b.length % 4 !== 0) return this.pcpAnswer(b, PCP.malformedRequest, 0, now);
    const op = u8(b, 1) & 0x7f;
    if (op === 0) return this.pcpAnswer(b, PCP.success, 0, now);
    if (op !== 1) return this.pcpAnswer(b, PCP.unsupportedOpcode, 0, now);
    if (b.length < PCP_HEADER + PCP_MAP_BODY) return this.pcpAnswer(b, PCP.malformedRequest, 0, now);
    const o = PCP_HEADER;
    const internalPort = b.readUInt16BE(o + 16);
    const suggested = b.readUInt16BE(o + 18);
    const wan = this.opts.wanAddress;
    const echo = { externalPort: suggested, externalAddress: wan };
    // RFC 6887 section 8.3: the client's own idea of its address must be the address the request came from.
    if (readMapped(b, 8) !== from.address) return this.pcpAnswer(b, PCP.addressMismatch, 0, now, echo);
    if (b[o + 12] !== IPPROTO_UDP) return this.pcpAnswer(b, PCP.unsupportedProtocol, 0, now, echo);
    const nonce = b.subarray(o, o + 12).toString('hex');
    const internal = { address: from.address, port: internalPort };
    const asked = b.readUInt32BE(4);
    if (asked === 0) {
      const own = this.leases().find((l) => l.internal.address === internal.address && l.internal.port === internalPort);
      if (own === undefined) return this.pcpAnswer(b, PCP.noResources, PCP_SHORT_ERROR_LIFETIME, now, echo);
      if (own.nonce !== nonce) return this.pcpAnswer(b, PCP.notAuthorized, 0, now, echo);
      this.drop(own, now);
      this.stats.deleted++;
      return this.pcpAnswer(b, PCP.success, 0, now, echo);
    }
    if (internalPort === 0) return this.pcpAnswer(b, PCP.malformedRequest, 0, now, echo);
    const lifetime = Math.min(PCP_LIFETIME.max, Math.max(PCP_LIFETIME.min, asked));
    const pick = this.pickPort(suggested === 0 ? internalPort : suggested, internal, now);
    if (!pick.ok) {
      return pick.why === 'none-allowed'
        ? this.pcpAnswer(b, PCP.notAuthorized, 0, now, echo)
        : this.pcpAnswer(b, PCP.noResources, PCP_SHORT_ERROR_LIFETIME, now, echo);
    }
    const assigned = { externalPort: pick.port, externalAddress: wan };
    if (this.reserved) return this.pcpAnswer(b, PCP.noResources, PCP_SHORT_ERROR_LIFETIME, now, assigned);
    this.add('pcp', internal, pick.port, lifetime, nonce, now);
    return this.pcpAnswer(b, PCP.success, lifetime, now, assigned);
  }
}

function writeMapped(b: Buffer, offset: number, ipv4: string): void {
  b.fill(0, offset, offset + 10);
  b[offset + 10] = 0xff;
  b[offset + 11] = 0xff;
  Buffer.from(ipv4.split('.').map(Number)).copy(b, offset + 12);
}

/** The IPv4 address in an IPv4-mapped IPv6 field, or null. */
function readMapped(b: Buffer, offset: number): string | null {
  for (let i = 0; i < 10; i++) if (b[offset + i] !== 0) return null;
  if (b[offset + 10] !== 0xff || b[offset + 11] !== 0xff) return null;
  return `${b[offset + 12]}.${b[offset + 13]}.${b[offset + 14]}.${b[offset + 15]}`;
}

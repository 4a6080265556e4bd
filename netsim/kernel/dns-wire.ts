/**
 * Just enough of the DNS wire format (RFC 1035) for the lab to ask a server
 * for an A record and read the answer: one question, A/IN, answers parsed
 * with name compression followed (pointers bounded, so a hostile packet
 * cannot loop). Not a resolver; the lab's tests and tools only.
 */

export const TYPE_A = 1;
const CLASS_IN = 1;
const HEADER = 12;
/** More pointer jumps than this in one name is a loop. */
const MAX_JUMPS = 16;

export class DnsWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsWireError';
  }
}

/** A standard query (RD set) for `name`, type A, class IN. */
export function encodeQuery(id: number, name: string): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new DnsWireError(`query id out of range: ${id}`);
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length === 0 || b.length > 63) throw new DnsWireError(`bad label in ${JSON.stringify(name)}`);
    parts.push(Buffer.from([b.length]), b);
  }
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPE_A, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, ...parts, Buffer.from([0]), tail]);
}

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** Dotted quad for A records, hex otherwise. */
  data: string;
}

export interface DnsResponse {
  id: number;
  /** The QR bit: this is a response. */
  response: boolean;
  /** RCODE: 0 NOERROR, 3 NXDOMAIN, 5 REFUSED … */
  rcode: number;
  question: string;
  answers: DnsAnswer[];
}

/** Reads a (possibly compressed) name at `off`; returns it and the offset after it in the original position. */
function readName(msg: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = off;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (pos >= msg.length) throw new DnsWireError('name runs past the end');
    const len = msg.readUInt8(pos);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new DnsWireError('truncated name pointer');
      if (++jumps > MAX_JUMPS) throw new DnsWireError('name pointer loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg.readUInt8(pos + 1);
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsWireError(`bad label length byte ${len}`);
    if (pos + 1 + len > msg.length) throw new DnsWireError('label runs past the end');
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString('ascii'));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Parses a response; throws DnsWireError on anything malformed. */
export function decodeResponse(msg: Buffer): DnsResponse {
  if (msg.length < HEADER) throw new DnsWireError(`${msg.length} bytes is shorter than a DNS header`);
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  if (qd !== 1) throw new DnsWireError(`expected one question, got ${qd}`);
  const q = readName(msg, HEADER);
  let off = q.next + 4;
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < an; i++) {
    const n = readName(msg, off);
    off = n.next;
    if (off + 10 > msg.length) throw new DnsWireError('truncated answer record');
    const type = msg.readUInt16BE(off);
    const ttl = msg.readUInt32BE(off + 4);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (off + rdlen > msg.length) throw new DnsWireError('answer data runs past the end');
    const rd = msg.subarray(off, off + rdlen);
    off += rdlen;
    const data = type === TYPE_A && rdlen === 4 ? [...rd].join('.') : rd.toString('hex');
    answers.push({ name: n.name, type, ttl, data });
  }
  return { id, response: (flags & 0x8000) !== 0, rcode: flags & 0x000f, question: q.name, answers };
}

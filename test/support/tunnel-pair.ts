import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { deriveSessionKeys } from '../../src/crypto/index.js';
import type { Role } from '../../src/role.js';
import { TunnelSession, type TunnelSessionOptions } from '../../src/session/index.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';
import { VirtualLink, type LinkProfile } from '../../netsim/link.js';
import { SeededRandom } from '../../netsim/random.js';
import { MemoryPath } from '../../netsim/memory-path.js';

export interface TunnelPair {
  scheduler: VirtualScheduler;
  link: VirtualLink;
  initiator: TunnelSession;
  responder: TunnelSession;
  close(): void;
}

type SessionOverrides = Partial<Omit<TunnelSessionOptions, 'keys' | 'role' | 'scheduler'>>;

/** Two tunnel sessions joined by a virtual link, on a fake clock. */
export function tunnelPair(
  profile: LinkProfile,
  opts: { seed?: number; session?: SessionOverrides; startTime?: number; sessionKey?: Buffer } = {},
): TunnelPair {
  const scheduler = new VirtualScheduler(opts.startTime ?? 0);
  const link = new VirtualLink(scheduler, new SeededRandom(opts.seed ?? 1), profile);
  const key = opts.sessionKey ?? randomBytes(32);
  const mtu = profile.mtu ?? 1400;
  const make = (role: Role, end: typeof link.a) => {
    const session = new TunnelSession({
      packetMtu: mtu,
      ...opts.session,
      keys: deriveSessionKeys(key, role),
      role,
      scheduler,
    });
    const path = new MemoryPath(end, `memory ${role}`, mtu).bind(session.receive);
    session.setPath(path);
    return session;
  };
  const initiator = make('initiator', link.a);
  const responder = make('responder', link.b);
  return {
    scheduler,
    link,
    initiator,
    responder,
    close() {
      initiator.close();
      responder.close();
    },
  };
}

/** Deterministic pseudo-random bytes, fast enough for tens of megabytes. */
export function patternBytes(seed: number, length: number): Buffer {
  const key = Buffer.alloc(32);
  key.writeUInt32LE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

/** Writes `data` into `stream` in chunks, honouring back-pressure, then ends it. */
export async function writeAll(stream: Duplex, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!stream.write(data.subarray(off, off + chunk))) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads a stream to its end, returning the byte count and SHA-256. */
export function digestOf(stream: Duplex): { done: () => boolean; result: () => { bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let bytes = 0;
  let ended = false;
  let sha = '';
  stream.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  stream.on('end', () => {
    ended = true;
    sha = hash.digest('hex');
  });
  return { done: () => ended, result: () => ({ bytes, sha256: sha }) };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

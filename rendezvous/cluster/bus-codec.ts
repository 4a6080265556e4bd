import { ReplayVerdict, ReplayWindow } from '../../src/crypto/replay-window.js';
import type { NodeAddress } from './keys.js';
import { BusEnvelope, type ClusterMessage } from './messages.js';
import { MAC_BYTES, type ClusterSecret } from './secret.js';
import type { ClusterTimers } from './timers.js';

/**
 * A bus frame: MAC (32 bytes) then the envelope as JSON. The MAC (HMAC-SHA256
 * with the cluster secret's bus key) covers the whole JSON: sender and
 * receiver with their incarnations, counter, timestamp and message.
 * Control messages only: a frame is at most MAX_BUS_FRAME bytes (a control
 * frame's 16 KiB plus the envelope), so no bulk data can ride on Redis.
 */
export const MAX_BUS_FRAME = 20 * 1024;
/** Counters remembered per sender; a sender's later messages may arrive this far out of order. */
const REPLAY_WINDOW = 1024;
/** Senders with a replay window kept (the least recently heard one is forgotten beyond). */
const MAX_SENDERS = 1024;

export type BusDropReason = 'too-big' | 'bad-mac' | 'malformed' | 'not-for-us' | 'stale' | 'replayed';

/** Seals messages from one node incarnation: its counter only goes up. */
export class BusSender {
  private seq = 0;

  constructor(
    private readonly secret: ClusterSecret,
    private readonly self: NodeAddress,
  ) {}

  /** The frame, or null if it would pass MAX_BUS_FRAME (nothing is sent then). */
  seal(to: NodeAddress, msg: ClusterMessage, wallNow: number): Buffer | null {
    const env: BusEnvelope = {
      v: 1,
      from: this.self.node,
      fromInc: this.self.incarnation,
      to: to.node,
      toInc: to.incarnation,
      seq: this.seq,
      ts: Math.floor(wallNow),
      msg,
    };
    const json = Buffer.from(JSON.stringify(env), 'utf8');
    if (MAC_BYTES + json.length > MAX_BUS_FRAME) return null;
    this.seq++;
    return Buffer.concat([this.secret.mac('bus', [json]), json]);
  }
}

export type BusOpened = { readonly ok: true; readonly from: NodeAddress; readonly msg: ClusterMessage } | { readonly ok: false; readonly reason: BusDropReason };

/**
 * Opens frames addressed to one node incarnation, sans-I/O: size, MAC
 * (constant time, before parsing anything), schema, addressee, clock skew,
 * replay; every drop counted by reason, never a throw. A frame's counter is
 * committed to its sender's window only after all checks passed.
 */
export class BusReceiver {
  private readonly windows = new Map<string, ReplayWindow>();
  readonly drops: Record<BusDropReason, number> = { 'too-big': 0, 'bad-mac': 0, malformed: 0, 'not-for-us': 0, stale: 0, replayed: 0 };
  accepted = 0;

  constructor(
    private readonly secret: ClusterSecret,
    private readonly self: NodeAddress,
    private readonly timers: Pick<ClusterTimers, 'busMaxSkewMs'>,
  ) {}

  open(frame: Uint8Array, wallNow: number): BusOpened {
    const r = this.check(frame, wallNow);
    if (r.ok) this.accepted++;
    else this.drops[r.reason]++;
    return r;
  }

  private check(frame: Uint8Array, wallNow: number): BusOpened {
    if (frame.length > MAX_BUS_FRAME) return { ok: false, reason: 'too-big' };
    if (frame.length <= MAC_BYTES) return { ok: false, reason: 'malformed' };
    const mac = frame.subarray(0, MAC_BYTES);
    const json = frame.subarray(MAC_BYTES);
    if (!this.secret.verify('bus', [json], mac)) return { ok: false, reason: 'bad-mac' };
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(json).toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const parsed = BusEnvelope.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: 'malformed' };
    const env = parsed.data;
    if (env.to !== this.self.node || env.toInc !== this.self.incarnation) return { ok: false, reason: 'not-for-us' };
    if (Math.abs(wallNow - env.ts) > this.timers.busMaxSkewMs) return { ok: false, reason: 'stale' };
    const key = `${env.from} ${env.fromInc}`;
    let w = this.windows.get(key);
    if (w !== undefined && w.verdict(env.seq) !== ReplayVerdict.Fresh) return { ok: false, reason: 'replayed' };
    if (w === undefined) {
      if (this.windows.size >= MAX_SENDERS) {
        const oldest = this.windows.keys().next();
        if (oldest.done !== true) this.windows.delete(oldest.value);
      }
      w = new ReplayWindow(REPLAY_WINDOW);
    }
    w.commit(env.seq);
    // Re-inserted: the map's order is least recently heard first.
    this.windows.delete(key);
    this.windows.set(key, w);
    return { ok: true, from: { node: env.from, incarnation: env.fromInc }, msg: env.msg };
  }
}

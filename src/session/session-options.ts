import type { Scheduler } from '../clock/scheduler.js';
import type { MuxOptions } from '../mux/index.js';
import type { KcpOptions } from '../kcp/index.js';
import type { SessionKeys } from '../crypto/index.js';
import type { ByteLedgerOptions } from './byte-ledger.js';
import type { Role } from '../role.js';
import type { DatagramStats } from './datagram-channel.js';

/** What a TunnelSession takes, what it counts, and its defaults. */
export interface TunnelSessionOptions {
  keys: SessionKeys;
  role: Role;
  /** KCP conversation id; both ends must agree. Default 1. */
  conv?: number;
  scheduler?: Scheduler;
  /** Largest sealed packet on any path. Default 1400 bytes of UDP payload. */
  packetMtu?: number;
  /** KCP tuning; defaults are tuned for tunnels (fast3, big windows, no congestion window). */
  kcp?: Omit<KcpOptions, 'conv' | 'output' | 'mtu'>;
  mux?: Partial<Omit<MuxOptions, 'role'>>;
  /**
   * The session is declared dead when no authenticated packet arrived for
   * this long. The mux keepalive keeps a healthy idle session well inside it.
   */
  idleTimeoutMs?: number;
  /**
   * Back-pressure on the direct path: no more of the byte stream is handed to
   * KCP while this many segments wait to be sent or acknowledged.
   */
  maxWaitSnd?: number;
  /**
   * The byte-offset layer: how much of what the mux wrote is kept until the
   * peer acknowledges it (the mux stops writing at `capacity`), and how often
   * this side acknowledges. Default 8 MiB, an ACK per MiB or 20 ms.
   */
  ledger?: ByteLedgerOptions;
  /**
   * Received bytes all streams together may hold for their readers. Over it,
   * the session stops taking data out of KCP, whose receive window then
   * closes and stops the sender: readers that stall cannot grow memory past
   * this, however many streams they hold (each stream alone is bounded by its
   * mux window). Default 32 MiB.
   */
  receiveBudget?: number;
}

export interface TunnelSessionStats extends DatagramStats {
  /** Authenticated datagrams and records received. */
  packetsIn: number;
  /** Datagrams and records sent. */
  packetsOut: number;
  /** Packets and records that failed authentication, were replayed, or were malformed. */
  packetsDropped: number;
  pathSwitches: number;
  /** KCP epochs started: a fresh KCP for each direct path after the relay carried the session. */
  kcpEpochs: number;
  /** Bytes of the stream sent and kept until the peer acknowledges them. */
  unacknowledgedBytes: number;
}

export const DEFAULT_KCP: Omit<KcpOptions, 'conv' | 'output' | 'mtu'> = {
  mode: 'fast3',
  sndwnd: 1024,
  rcvwnd: 1024,
  noCongestion: true,
  stream: true,
  // A full window in one flush takes tens of ms of sealing and sending, during
  // which no ACK is read and every segment carries the flush's start time:
  // RTT samples swell and RTOs fire spuriously. 64 segments is ~1.5 ms.
  maxBurst: 64,
};

/**
 * Per-stream mux window. The mux's 256 KiB default stalls a bulk stream on
 * grant round trips well below what KCP carries (kcptun's smux uses 2 MiB);
 * 1 MiB keeps the pipe full while staying under the KCP window, so the
 * queue in front of a slower receiver stays short of the RTO.
 */
export const DEFAULT_STREAM_WINDOW = 1024 * 1024;

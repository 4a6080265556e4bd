import type { UdpEndpoint } from '../net/udp-socket.js';
import { decodeProbe, encodeProbe, ProbeType, type ProbeDecode, type ProbeTypeValue } from './probe-packet.js';
import type { PunchKeys } from './punch-keys.js';

export type RandomBytes = (n: number) => Buffer;

/** Counts of probe-kind packets that were dropped, by reason. */
export type ProbeDropCounts = Record<string, number>;

/**
 * Makes and checks the probe-kind packets of one session: the punch and the
 * path keepalives share keys, tag and sequence numbers.
 */
export class ProbeCodec {
  private seq = 0;
  readonly drops: ProbeDropCounts = {};

  constructor(
    private readonly keys: PunchKeys,
    private readonly random: RandomBytes,
  ) {}

  /** `nonce` defaults to a fresh random one (birthday probes share one, to match acks from unknown ports). */
  make(type: ProbeTypeValue, endpoint: UdpEndpoint | null, echo?: Buffer, nonce = this.random(8)): { data: Buffer; nonce: Buffer } {
    const data = encodeProbe({ type, seq: this.seq++, nonce, echo: echo ?? Buffer.alloc(0), endpoint }, this.keys.tag, this.keys.sendKey);
    return { data, nonce };
  }

  /** Authenticated packet or null (counted by reason). */
  open(data: Buffer): Extract<ProbeDecode, { ok: true }>['packet'] | null {
    const r = decodeProbe(data, this.keys.tag, this.keys.recvKey);
    if (r.ok) return r.packet;
    this.drops[r.reason] = (this.drops[r.reason] ?? 0) + 1;
    return null;
  }
}

export { ProbeType };

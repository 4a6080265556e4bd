import { randomBytes } from 'node:crypto';
import { PacketSealer } from '../../src/crypto/index.js';

export function key(fill?: number): Buffer {
  return fill === undefined ? randomBytes(32) : Buffer.alloc(32, fill);
}

/** A sealer whose next counter can be set, to reach counters a test can't count up to. */
export class JumpingSealer extends PacketSealer {
  jumpTo(counter: number): this {
    this.next = counter;
    return this;
  }
}

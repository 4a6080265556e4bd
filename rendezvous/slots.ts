/** One held slot of a SlotPool; release() is idempotent, so a slot is given back exactly once. */
export interface Slot {
  release(): void;
}

/**
 * A fixed number of slots (e.g. connections that have not proven
 * themselves yet). Holders get a Slot and give it back through it, once,
 * whatever path they leave by — so the count cannot drift the way a counter
 * adjusted by hand in several places can.
 */
export class SlotPool {
  private held = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.held;
  }

  /** A slot, or null when all are taken. */
  acquire(): Slot | null {
    if (this.held >= this.capacity) return null;
    this.held++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.held--;
      },
    };
  }
}

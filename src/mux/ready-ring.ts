/**
 * Round-robin queue of streams that have something to send. Intrusive
 * doubly-linked list: O(1) push, shift and remove, no allocation, and a
 * stream is in it at most once, so its size is bounded by the stream count.
 * remove() matters: a stream destroyed while the transport is blocked must
 * leave the queue at once, or open/destroy loops would grow it unbounded.
 */
export interface ReadyLink<T> {
  queued: boolean;
  prevReady: T | null;
  nextReady: T | null;
}

export class ReadyRing<T extends ReadyLink<T>> {
  private first: T | null = null;
  private last: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends at the tail; no-op when already queued. */
  push(item: T): void {
    if (item.queued) return;
    item.queued = true;
    item.prevReady = this.last;
    item.nextReady = null;
    if (this.last === null) this.first = item;
    else this.last.nextReady = item;
    this.last = item;
    this.count++;
  }

  shift(): T | undefined {
    const item = this.first;
    if (item === null) return undefined;
    this.remove(item);
    return item;
  }

  remove(item: T): void {
    if (!item.queued) return;
    if (item.prevReady === null) this.first = item.nextReady;
    else item.prevReady.nextReady = item.nextReady;
    if (item.nextReady === null) this.last = item.prevReady;
    else item.nextReady.prevReady = item.prevReady;
    item.prevReady = null;
    item.nextReady = null;
    item.queued = false;
    this.count--;
  }

  clear(): void {
    while (this.first !== null) this.remove(this.first);
  }
}

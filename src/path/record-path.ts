/**
 * A path that carries a session's sealed records reliably and in order: a
 * relay link, whose TCP connection the rendezvous splices to the other
 * peer's. Unlike a DatagramPath it never drops: a full send queue is
 * back-pressure for the session, which stops taking bytes from its streams
 * until the path drains. Records are opaque here (the session seals them).
 */
export interface RecordPath {
  readonly kind: 'relay';
  /** Tells a RecordPath from a DatagramPath. */
  readonly carries: 'records';
  /** Human-readable, for logs: "relay via rendezvous". */
  readonly label: string;
  /** Largest sealed record the path accepts (and the peer's side will take). */
  readonly maxRecord: number;
  /**
   * Queues one sealed record. Never drops. Returns false once the queue is
   * over its mark: send no more until the drain callback runs. The path
   * holds `record` until it is written (no copy of a 256 KiB record), so the
   * caller must not change it afterwards; RecordSealer.seal returns a fresh one.
   */
  send(record: Uint8Array): boolean;
  /** Runs `fn` once, when the queue has drained after send() returned false. */
  onDrain(fn: () => void): void;
  /** Stops reading from the peer (TCP back-pressure reaches its sender) until resumeReading(). */
  pauseReading(): void;
  resumeReading(): void;
  /** Runs `fn` once when the path closes (at once if it already has). */
  whenClosed(fn: () => void): void;
  readonly isClosed: boolean;
  close(): void;
}

/** Where a record path delivers each sealed record it receives, whole. */
export type RecordReceiver = (record: Buffer, path: RecordPath) => void;

/** A session's paths are of two sorts; this tells them apart. */
export function isRecordPath(path: object): path is RecordPath {
  return 'carries' in path && path.carries === 'records';
}

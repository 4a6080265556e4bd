/**
 * MuxStream: the thin Node I/O face of one multiplexed stream. It holds no
 * protocol state; every hook forwards to the StreamController the session
 * gave it, which decides what goes on the wire and when callbacks fire.
 */
import { Duplex } from 'node:stream';

export type WriteCallback = (error?: Error | null) => void;

/** What a MuxStream needs from its session. Implemented by StreamState. */
export interface StreamController {
  /** Called by _write; `cb` fires once every byte was handed to the transport. */
  write(chunk: Buffer, cb: WriteCallback): void;
  /** Called by _final; `cb` fires once the FIN was handed to the transport. */
  final(cb: WriteCallback): void;
  /** Called by _read: the consumer wants more. This is where window credit is earned. */
  read(): void;
  /** Called by _destroy (local reset, autoDestroy after a clean close, or session teardown). */
  destroy(err: Error | null): void;
  /** Received bytes held by the mux (not yet pushed into the Readable buffer). */
  readonly bufferedReceive: number;
}

export class MuxStream extends Duplex {
  readonly id: number;
  readonly #ctl: StreamController;

  /** @internal Streams are made by MuxSession (openStream / 'stream'), not by users. */
  constructor(id: number, ctl: StreamController) {
    // allowHalfOpen: our end() must not end the peer's direction (FIN is per
    // direction); autoDestroy frees the stream once both directions are done.
    super({ allowHalfOpen: true, autoDestroy: true, emitClose: true });
    this.id = id;
    this.#ctl = ctl;
  }

  /** Bytes received for this stream that the mux still holds (bounded by the window). */
  get bufferedReceive(): number {
    return this.#ctl.bufferedReceive;
  }

  /** Aborts both directions: sends RST; the peer's stream errors with ERR_STREAM_RESET. */
  reset(): void {
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#ctl.write(chunk, callback);
  }

  override _final(callback: WriteCallback): void {
    this.#ctl.final(callback);
  }

  override _read(): void {
    this.#ctl.read();
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    this.#ctl.destroy(error);
    callback(error);
  }
}

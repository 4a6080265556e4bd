import { EventEmitter } from 'node:events';
import type { StreamSocket } from '../net/stream-transport.js';
import { BoundedWriter, type BoundedWriterOptions, type WriterOverflow } from './bounded-writer.js';
import { ControlFrameDecoder, encodeControlFrame, isFrameError } from './frame.js';
import type { Parsed } from './messages.js';

/**
 * Bytes a control connection may leave unsent before its reader is cut off
 * by default: control messages are small and rare, so a reader this far
 * behind has stopped reading.
 */
export const DEFAULT_CONTROL_QUEUE_BYTES = 256 * 1024;

export type ControlConnectionOptions = Partial<BoundedWriterOptions>;

/**
 * A control connection over a TCP socket (any StreamSocket): frames in, validated messages out.
 * Thin I/O around ControlFrameDecoder. Any framing or schema violation ends
 * the connection (emitting 'invalid' first, for logs and counters), and so
 * does a reader that lets more than `maxQueuedBytes` pile up unsent (or stays
 * full for `stallTimeoutMs`): 'overflow' first.
 *
 * Events: 'message' (M), 'invalid' (reason), 'overflow' (WriterOverflow), 'close' ().
 */
export class ControlConnection<In, Out extends object> extends EventEmitter {
  private readonly decoder = new ControlFrameDecoder();
  private paused = false;
  private closed = false;

  private readonly writer: BoundedWriter;

  constructor(
    readonly socket: StreamSocket,
    private readonly parse: (body: unknown) => Parsed<In>,
    opts: ControlConnectionOptions = {},
  ) {
    super();
    this.writer = new BoundedWriter(socket, { ...opts, maxQueuedBytes: opts.maxQueuedBytes ?? DEFAULT_CONTROL_QUEUE_BYTES }, (o: WriterOverflow) => {
      this.emit('overflow', o);
      this.close();
    });
    socket.on('data', this.onData);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Queues a message; dropped once the connection is closed, detached or overflowed. */
  send(message: Out): void {
    if (!this.closed && !this.paused) this.writer.write(encodeControlFrame(message));
  }

  /** Bytes sent to the socket and not yet taken by the network. */
  get queuedBytes(): number {
    return this.writer.queuedBytes;
  }

  /** The most bytes this connection has had queued at once. */
  get peakQueuedBytes(): number {
    return this.writer.peakQueuedBytes;
  }

  /**
   * Stops interpreting bytes as frames and hands the socket over, with any
   * bytes already read past the last frame (for relay links).
   */
  detach(): Buffer {
    this.paused = true;
    this.writer.dispose();
    this.socket.off('data', this.onData);
    // Removing the listener does not stop the flow; bytes must wait for the new owner.
    this.socket.pause();
    return this.decoder.takeRest();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.dispose();
    this.socket.destroy();
    this.emit('close');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.decoder.append(chunk);
    while (!this.paused && !this.closed) {
      const frame = this.decoder.next();
      if (frame === null) return;
      if (isFrameError(frame)) {
        this.emit('invalid', `${frame.error}: ${frame.detail}`);
        this.close();
        return;
      }
      const parsed = this.parse(frame.body);
      if (!parsed.ok) {
        this.emit('invalid', parsed.reason);
        this.close();
        return;
      }
      this.emit('message', parsed.message);
    }
  };
}

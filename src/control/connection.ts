import { EventEmitter } from 'node:events';
import type { StreamSocket } from '../net/stream-transport.js';
import { ControlFrameDecoder, encodeControlFrame, isFrameError } from './frame.js';
import type { Parsed } from './messages.js';

/**
 * A control connection over a TCP socket (any StreamSocket): frames in, validated messages out.
 * Thin I/O around ControlFrameDecoder. Any framing or schema violation ends
 * the connection (emitting 'invalid' first, for logs and counters).
 *
 * Events: 'message' (M), 'invalid' (reason), 'close' ().
 */
export class ControlConnection<In, Out extends object> extends EventEmitter {
  private readonly decoder = new ControlFrameDecoder();
  private paused = false;
  private closed = false;

  constructor(
    readonly socket: StreamSocket,
    private readonly parse: (body: unknown) => Parsed<In>,
  ) {
    super();
    socket.on('data', this.onData);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  send(message: Out): void {
    if (!this.closed) this.socket.write(encodeControlFrame(message));
  }

  /**
   * Stops interpreting bytes as frames and hands the socket over, with any
   * bytes already read past the last frame (for relay links).
   */
  detach(): Buffer {
    this.paused = true;
    this.socket.off('data', this.onData);
    // Removing the listener does not stop the flow; bytes must wait for the new owner.
    this.socket.pause();
    return this.decoder.takeRest();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
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

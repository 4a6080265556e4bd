import type { Duplex } from 'node:stream';
import type { StreamSocket } from '../src/net/stream-transport.js';

/** What a stream must offer to be bridged to a TCP socket (a MuxStream does). */
export interface ResettableStream extends Duplex {
  reset(): void;
}

/**
 * Joins a TCP socket and a tunnel stream, both ways, with back-pressure.
 *
 * Half-close propagates (a client's FIN ends the stream's writable side and
 * the other way round), which needs the socket created with allowHalfOpen.
 * An abortive close propagates as one too: a TCP reset or socket error resets
 * the stream, and a stream reset resets the TCP connection, so neither end
 * mistakes a failure for a clean end of data.
 */
export function bridge(socket: StreamSocket, stream: ResettableStream, onClose?: (err?: Error) => void): void {
  let finished = false;
  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    onClose?.(err);
  };

  socket.pipe(stream);
  coalesceTurn(stream, socket);
  stream.pipe(socket);

  socket.on('error', (err) => {
    stream.reset();
    finish(err);
  });
  stream.on('error', (err) => {
    if (!socket.destroyed) socket.resetAndDestroy();
    finish(err);
  });

  let socketClosed = false;
  let streamClosed = false;
  socket.on('close', (hadError: boolean) => {
    socketClosed = true;
    // A socket that closed before both directions finished did not end cleanly.
    if (!hadError && !(socket.readableEnded && socket.writableFinished)) stream.reset();
    if (streamClosed) finish();
  });
  stream.on('close', () => {
    streamClosed = true;
    if (!socket.destroyed && !(stream.readableEnded && stream.writableFinished)) socket.resetAndDestroy();
    if (socketClosed) finish();
  });
}

/**
 * The tunnel delivers what KCP received once per event-loop turn, as one mux
 * frame (~1.3 KB) per push; piped as is, that is one socket.write, one
 * syscall, per frame. Corked from the turn's first chunk until the next tick,
 * the turn's chunks leave in one writev. Back-pressure is unchanged: write()
 * still returns false past the high-water mark and pipe pauses the stream
 * until 'drain'; end() uncorks by itself. Must be attached before pipe() so
 * it runs before pipe's own 'data' listener.
 */
function coalesceTurn(from: Duplex, to: StreamSocket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    to.uncork();
  };
  from.on('data', () => {
    if (corked || to.destroyed || to.writableEnded) return;
    corked = true;
    to.cork();
    process.nextTick(uncork);
  });
}

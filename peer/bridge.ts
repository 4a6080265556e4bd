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

/**
 * burrow's stream multiplexer: many Duplex streams over one reliable,
 * ordered byte stream (a KCP connection in stream mode).
 */
export { MuxSession, type MuxTransport, type MuxStats } from './session.js';
export { MuxStream } from './stream.js';
export { MUX_DEFAULTS, type MuxOptions } from './options.js';
export {
  FrameDecoder,
  encodeFrame,
  encodeData,
  encodeControl,
  type Frame,
  type DataFrame,
  type ControlFrame,
  type FrameError,
  type FrameErrorKind,
  type DecodeResult,
} from './frame.js';
export {
  MUX_VERSION,
  HEADER_LENGTH,
  FrameType,
  Flag,
  INITIAL_STREAM_WINDOW,
  DEFAULT_MAX_FRAME_PAYLOAD,
  ResetReason,
  GoAwayCode,
} from './protocol.js';

export { cpaceGenerator, cpaceShare, cpaceFinish, randomScalar, CPACE_POINT_LENGTH, type CpaceShare } from './cpace.js';
export {
  HandshakeInitiator,
  HandshakeResponder,
  HANDSHAKE_VERSION,
  HELLO_LENGTH,
  LEGACY_HELLO_LENGTH,
  REPLY_LENGTH,
  LEGACY_REPLY_LENGTH,
  CONFIRM_LENGTH,
  type HandshakeParams,
  type HandshakeResult,
} from './session-handshake.js';

export { SEALED_OVERHEAD, SEALED_HEADER_LENGTH, SEALED_TAG_LENGTH, MAX_COUNTER } from './packet-format.js';
export { PacketSealer, type PacketSealerOptions } from './sealer.js';
export { PacketOpener, DEFAULT_REPLAY_WINDOW, type OpenerStats, type PacketOpenerOptions } from './opener.js';
export { ReplayWindow, ReplayVerdict, MAX_REPLAY_WINDOW, type ReplayVerdictValue } from './replay-window.js';
export { deriveSessionKeys, type SessionKeys } from './session-keys.js';
export {
  AEAD_ALGORITHMS,
  AEAD_ENV,
  DEFAULT_AEAD,
  aeadPreference,
  cpuinfoHasAes,
  isAeadAlgorithm,
  negotiateAead,
  type AeadAlgorithm,
  type AeadHost,
} from './aead.js';

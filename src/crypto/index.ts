export { SEALED_OVERHEAD, SEALED_HEADER_LENGTH, SEALED_TAG_LENGTH, MAX_COUNTER } from './packet-format.js';
export { PacketSealer, type PacketSealerOptions } from './sealer.js';
export { PacketOpener, DEFAULT_REPLAY_WINDOW, type OpenerStats, type PacketOpenerOptions } from './opener.js';
export { ReplayWindow, ReplayVerdict, MAX_REPLAY_WINDOW, type ReplayVerdictValue } from './replay-window.js';
export { deriveSessionKeys, type SessionKeys } from './session-keys.js';
export { deriveRecordKeys, deriveDatagramKeys } from './derived-keys.js';
export { RECORD_OVERHEAD, type RecordCryptoOptions } from './record-format.js';
export { RecordSealer } from './record-sealer.js';
export { RecordOpener, type RecordOpenerStats } from './record-opener.js';
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

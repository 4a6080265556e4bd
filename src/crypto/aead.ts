import { readFileSync } from 'node:fs';
import { BurrowError } from '../errors.js';

/**
 * The AEADs a session can seal with. Both take a 32-byte key, a 12-byte nonce
 * and give a 16-byte tag, so the sealed packet and record formats are the
 * same whichever the handshake chose; only the key schedule binds the choice.
 */
export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm'];

/** What a session seals with when nothing was negotiated (and what every older peer uses). */
export const DEFAULT_AEAD: AeadAlgorithm = 'chacha20-poly1305';

/** Forces this process's preference (tests, benchmarks): one of AEAD_ALGORITHMS. */
export const AEAD_ENV = 'BURROW_AEAD';

export function isAeadAlgorithm(value: unknown): value is AeadAlgorithm {
  return value === 'chacha20-poly1305' || value === 'aes-256-gcm';
}

/**
 * Whether /proc/cpuinfo's text says the CPU has AES instructions: the `aes`
 * word in an x86 `flags` line or an arm64 `Features` line. Any other
 * architecture, or text without such a line, says no: AES-GCM in software is
 * several times slower than ChaCha20-Poly1305, so "no" is the safe answer.
 */
export function cpuinfoHasAes(cpuinfo: string, arch: string): boolean {
  const field = arch === 'x64' || arch === 'ia32' ? 'flags' : arch === 'arm64' ? 'Features' : null;
  if (field === null) return false;
  for (const line of cpuinfo.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() !== field) continue;
    // The first such line is the first CPU's; every core of a host has the same ISA.
    return line.slice(colon + 1).trim().split(/\s+/).includes('aes');
  }
  return false;
}

/** Where aeadPreference() looks; injectable so tests need neither /proc nor a real env. */
export interface AeadHost {
  env: Readonly<Record<string, string | undefined>>;
  arch: string;
  /** /proc/cpuinfo's text, or null when unreadable (not Linux, no /proc). */
  cpuinfo(): string | null;
}

function readCpuinfo(): string | null {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
}

const THIS_HOST: AeadHost = { env: process.env, arch: process.arch, cpuinfo: readCpuinfo };

/**
 * The AEAD this side offers in the handshake: AES-256-GCM when the CPU has
 * AES instructions, else ChaCha20-Poly1305; BURROW_AEAD overrides. An
 * invalid BURROW_AEAD throws ERR_CONFIG.
 */
export function aeadPreference(host: AeadHost = THIS_HOST): AeadAlgorithm {
  const forced = host.env[AEAD_ENV];
  if (forced !== undefined && forced !== '') {
    if (!isAeadAlgorithm(forced)) {
      throw new BurrowError('ERR_CONFIG', `${AEAD_ENV} must be one of ${AEAD_ALGORITHMS.join(', ')}, got '${forced}'`);
    }
    return forced;
  }
  const cpuinfo = host.cpuinfo();
  return cpuinfo !== null && cpuinfoHasAes(cpuinfo, host.arch) ? 'aes-256-gcm' : 'chacha20-poly1305';
}

/** The rule both sides apply: AES-256-GCM only when both prefer it (both have AES instructions). */
export function negotiateAead(ours: AeadAlgorithm, theirs: AeadAlgorithm): AeadAlgorithm {
  return ours === 'aes-256-gcm' && theirs === 'aes-256-gcm' ? 'aes-256-gcm' : 'chacha20-poly1305';
}

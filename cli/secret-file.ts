import { readFileSync } from 'node:fs';
import { BurrowError, type BurrowErrorCode } from '../src/errors.js';

/**
 * A secret kept in a file (a systemd credential, a root-only file): its
 * content without surrounding whitespace; a file that cannot be read is a
 * `code` error naming the setting (`what`) and the path.
 */
export function readTrimmed(path: string, what: string, code: BurrowErrorCode = 'ERR_INVALID_ARGUMENT'): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new BurrowError(code, `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** readTrimmed for a flag whose file must not be empty. */
export function readSecretFile(path: string, flag: string): string {
  const text = readTrimmed(path, flag);
  if (text === '') throw new BurrowError('ERR_INVALID_ARGUMENT', `${flag} ${path} is empty`);
  return text;
}

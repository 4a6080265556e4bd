/** Finds Debian's chromium for the dashboard's browser test (null: not installed, the test skips). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findChromium(): string | null {
  const dirs = ['/usr/bin', ...(process.env['PATH'] ?? '').split(delimiter)];
  for (const dir of dirs) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** Chromium refuses to run as root with its sandbox on. */
export const CHROMIUM_ARGS = [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'];

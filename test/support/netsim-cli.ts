/** Runs `burrow netsim ...args` as a process (bounded), the way this test runs (tsx loader flags included). */
import { execFile } from 'node:child_process';
import { BURROW_ENTRY, loaderArgs } from '../../netsim/kernel/cli-process.js';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

export function netsimCli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...loaderArgs(), BURROW_ENTRY, 'netsim', ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

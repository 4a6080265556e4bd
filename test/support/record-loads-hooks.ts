/**
 * Module loader hooks (node:module register) that append the URL of every
 * module loaded to a file, one a line: a child process started with
 * `--import record-loads.js` tells a test which of our files it loaded.
 */
import { appendFileSync } from 'node:fs';

let logFile: string | undefined;

export function initialize(data: { logFile: string }): void {
  logFile = data.logFile;
}

type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<unknown> {
  if (logFile !== undefined) appendFileSync(logFile, url + '\n');
  return nextLoad(url, context);
}

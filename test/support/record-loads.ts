/**
 * Preload (`node --import <this file>`) that records every module the process
 * loads into the file named by BURROW_LOAD_LOG, through record-loads-hooks.
 */
import { register } from 'node:module';

const logFile = process.env.BURROW_LOAD_LOG;
if (logFile) {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  register(`./record-loads-hooks${ext}`, import.meta.url, { data: { logFile } });
}

#!/usr/bin/env node
import { main } from '../cli/program.js';
import { installLastResort, logFormatFromArgs, EXIT_INTERNAL } from '../cli/last-resort.js';
import { Logger } from '../src/log/logger.js';

const log = new Logger({ format: logFormatFromArgs(process.argv), fields: { component: 'burrow' } });
installLastResort(log);

main(process.argv).catch((err: unknown) => {
  log.error('internal-error', { kind: 'main', error: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
  process.exit(EXIT_INTERNAL);
});

#!/usr/bin/env node
import { main } from '../cli/program.js';

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`burrow: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

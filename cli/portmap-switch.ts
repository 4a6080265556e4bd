import { BurrowError } from '../src/errors.js';

/**
 * `BURROW_PORTMAP=off` turns router port mapping off for every command,
 * whatever the flags and the config file say. It is there for service
 * managers, and for the test and benchmark harnesses: they run peers on
 * loopback and must never ask the machine's real router for anything.
 */
export const PORTMAP_ENV = 'BURROW_PORTMAP';

/** Whether a command that asked for port mapping (`requested`) may use it. */
export function portmapAllowed(requested: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[PORTMAP_ENV];
  if (v === undefined || v === '' || v === 'on') return requested;
  if (v === 'off') return false;
  throw new BurrowError('ERR_INVALID_ARGUMENT', `${PORTMAP_ENV} must be "on" or "off", got "${v}"`);
}

/**
 * Element `i` of `items` where the caller has proved `i` in range (a loop
 * bound, a checked length, a non-empty list). Throws ERR_INTERNAL (a bug in
 * burrow, never bad input) if the proof was wrong, instead of letting
 * `undefined` through. Not for hot paths: their rings read slots directly.
 */
import { BurrowError } from '../errors.js';

export function at<T>(items: ArrayLike<T>, i: number): T {
  const v = items[i];
  if (v === undefined) {
    throw new BurrowError('ERR_INTERNAL', `index ${i} out of range (length ${items.length})`);
  }
  return v;
}

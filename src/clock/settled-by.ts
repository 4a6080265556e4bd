import type { Scheduler } from './scheduler.js';

/** `p`'s value if it settles by `deadline`, else null (p keeps running; its result is dropped). */
export function settledBy<T>(p: Promise<T>, scheduler: Scheduler, deadline: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = scheduler.at(Math.max(deadline, scheduler.now()), () => resolve(null));
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      () => {
        timer.cancel();
        resolve(null);
      },
    );
  });
}

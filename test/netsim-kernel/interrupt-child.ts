/**
 * Helper for lifecycle.test.ts (not a test): builds a lab and keeps adding
 * sites, printing one JSON line per step, until it is interrupted. The parent
 * sends a signal mid-build and checks that nothing is left behind.
 */
import { Lab } from '../../netsim/kernel/index.js';

const say = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

async function main(): Promise<void> {
  const lab = await Lab.create({
    selfCheck: false,
    log: (msg) => {
      const m = /^netns add \S+-([0-9a-z]+)-core$/.exec(msg);
      if (m) say({ runId: m[1] });
    },
  });
  say({ stund: lab.stund.pid });
  const sleeper = lab.spawn(lab.outside, 'sleep', ['60']);
  say({ sleeper: sleeper.pid });
  for (let i = 0; i < 12; i++) {
    say({ building: i });
    const site = await lab.addSite('port-restricted-cone', { verify: false });
    say({ built: i, namespaces: site.namespaces });
  }
  say({ done: true });
  await lab.close();
}

main().catch((e: unknown) => {
  // A LabClosedError here is expected: the signal handler is tearing the lab down.
  say({ error: String((e as Error).message ?? e) });
});

/**
 * A child process holding many idle providers, each logged in to the
 * rendezvous on its own control connection with one service registered,
 * doing what an idle provider does (heartbeats), nothing more. For the
 * capacity bench. Reports over IPC once all are registered.
 */
import { Provider } from '../../peer/provider.js';
import { Logger } from '../../src/log/logger.js';

interface Config {
  port: number;
  token: string;
  count: number;
  prefix: string;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const silent = new Logger({ level: 'error', sink: { write() {} } });
const providers: Provider[] = [];
let registered = 0;
let taken = 0;

// Logged in a few hundred at a time, as a crowd arrives, not all in one turn.
const BATCH = 250;
async function main(): Promise<void> {
  process.send?.({ type: 'started' });
  for (let i = 0; i < cfg.count; i += BATCH) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(cfg.count, i + BATCH); j++) {
      const p = new Provider({
        server: { host: '127.0.0.1', port: cfg.port },
        token: cfg.token,
        services: [{ name: `${cfg.prefix}-${j}`, secret: 'idle', target: { host: '127.0.0.1', port: 9 } }],
        logger: silent,
        mode: 'stcp',
      });
      providers.push(p);
      batch.push(
        new Promise((resolve) => {
          p.once('registered', () => {
            registered++;
            resolve();
          });
          p.once('name-taken', () => {
            taken++;
            resolve();
          });
        }),
      );
      p.start();
    }
    await Promise.all(batch);
  }
  process.send?.({ type: 'registered', registered, taken });
}

process.on('message', (m) => {
  if (m === 'stop') {
    for (const p of providers) void p.stop();
    setTimeout(() => process.exit(0), 500);
  }
});
void main();

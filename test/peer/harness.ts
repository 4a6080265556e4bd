/** A rendezvous (TCP + STUN ports), a provider and a visitor in this process, on loopback. */
import net from 'node:net';
import { startRendezvous, type Rendezvous } from '../../rendezvous/rendezvous.js';
import { Provider, type ProviderOptions } from '../../peer/provider.js';
import { Visitor, type VisitorOptions } from '../../peer/visitor.js';
import { Logger } from '../../src/log/logger.js';

export interface LoopbackLab {
  server: { host: string; port: number };
  rendezvous: Rendezvous;
  logs: { component: string; event: string; fields: Record<string, unknown> }[];
  logger(component: string): Logger;
  close(): Promise<void>;
}

export async function startLoopbackLab(opts: { relayBytesPerSecond?: number } = {}): Promise<LoopbackLab> {
  const logs: LoopbackLab['logs'] = [];
  const logger = (component: string) =>
    new Logger({
      level: 'debug',
      format: 'json',
      fields: { component },
      sink: {
        write(line: string) {
          const r = JSON.parse(line) as Record<string, unknown>;
          logs.push({ component, event: String(r['event']), fields: r });
          if (process.env['BURROW_TEST_LOG']) process.stderr.write(line);
        },
      },
    });
  // TCP and STUN on one port number, as the CLI does by default.
  const rendezvous = await startRendezvous({
    host: '127.0.0.1',
    port: 0,
    token: 'tok',
    logger: logger('rendezvous'),
    stun: {},
    ...(opts.relayBytesPerSecond !== undefined ? { limits: { relayBytesPerSecond: opts.relayBytesPerSecond } } : {}),
  });
  return {
    server: { host: '127.0.0.1', port: rendezvous.tcp!.port },
    rendezvous,
    logs,
    logger,
    close: () => rendezvous.close(),
  };
}

export function startProvider(lab: LoopbackLab, target: number, extra: Partial<ProviderOptions> = {}): Provider {
  const p = new Provider({
    server: lab.server,
    token: 'tok',
    services: [{ name: 'svc', secret: 'sec', target: { host: '127.0.0.1', port: target } }],
    logger: lab.logger('provider'),
    mode: 'xtcp',
    ...extra,
  });
  p.start();
  return p;
}

export async function startVisitor(lab: LoopbackLab, extra: Partial<VisitorOptions> = {}): Promise<{ visitor: Visitor; port: number }> {
  const visitor = new Visitor({
    server: lab.server,
    token: 'tok',
    service: 'svc',
    secret: 'sec',
    listen: { host: '127.0.0.1', port: 0 },
    logger: lab.logger('visitor'),
    mode: 'xtcp',
    ...extra,
  });
  const a = await visitor.start();
  return { visitor, port: a.port };
}

/** A TCP service that echoes everything back, and counts the connections it accepted. */
export async function echoServer(): Promise<{ port: number; connections(): number; close(): void }> {
  let accepted = 0;
  const s = net.createServer({ allowHalfOpen: true }, (c) => {
    accepted++;
    c.on('error', () => {});
    c.pipe(c);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as net.AddressInfo).port, connections: () => accepted, close: () => s.close() };
}

export function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/**
 * Runs a PortMapper inside a lab namespace for portmap-kernel.test.ts (not a
 * test itself). Binds the "LAN host's socket" (the one to map), maps it, and
 * prints one JSON line per event: ready, the mapper's events, each datagram
 * the socket receives (it answers "ECHO <data>"). Reads "close" on stdin:
 * closes the mapper (deleting the mapping) and exits. Ends on its own after
 * a bounded time.
 *
 *   node mapper-child.js GATEWAY PROTOCOLS(comma list) LIFETIME_S MAX_REFRESH_MS
 */
import dgram from 'node:dgram';
import { PortMapper } from '../../src/portmap/index.js';
import type { PortMapProtocol } from '../../src/portmap/index.js';
import { Logger } from '../../src/log/logger.js';

const MAX_RUN_MS = 180_000;
const out = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

async function main(): Promise<void> {
  const [gateway, protocolList, lifetime, refresh] = process.argv.slice(2);
  if (gateway === undefined || protocolList === undefined || lifetime === undefined || refresh === undefined) {
    throw new Error('usage: mapper-child GATEWAY PROTOCOLS LIFETIME_S MAX_REFRESH_MS');
  }
  const protocols = protocolList.split(',') as PortMapProtocol[];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => {
    out({ type: 'datagram', from: r.address, port: r.port, data: m.toString().slice(0, 200) });
    sock.send(`ECHO ${m.toString().slice(0, 200)}`, r.port, r.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, resolve));
  const port = sock.address().port;
  out({ type: 'ready', port });
  const mapper = await PortMapper.start({
    internalPort: port,
    gateway,
    protocols,
    lifetimeSeconds: Number(lifetime),
    maxRefreshIntervalMs: Number(refresh),
    onEvent: (e) => out(e),
    log: new Logger({ level: 'debug' }),
  });
  const finish = async (): Promise<void> => {
    await mapper.close();
    out({ type: 'closed', dropped: mapper.dropped });
    sock.close();
    process.exit(0);
  };
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (c: string) => {
    input += c;
    if (input.includes('close\n')) void finish();
  });
  setTimeout(() => void finish(), MAX_RUN_MS).unref();
  // Keep running while the parent holds our stdin open.
}

main().catch((e: unknown) => {
  out({ type: 'error', error: String(e) });
  process.exit(1);
});

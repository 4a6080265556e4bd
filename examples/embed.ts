// Provide a local TCP echo service and visit it through burrow, all in one
// process: a rendezvous on loopback, a provider in front of the echo
// service, a visitor whose local port leads to it.
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startProvider, startRendezvous, startVisitor } from 'burrow';

export async function echoThroughBurrow(message: string) {
  // The service to reach: echoes what it gets, then closes.
  const echo = net.createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const echoPort = (echo.address() as net.AddressInfo).port;

  const token = randomBytes(16).toString('hex'); // rendezvous <-> peers
  const secret = randomBytes(16).toString('hex'); // visitor <-> provider, never sent
  const rendezvous = await startRendezvous({ listen: '127.0.0.1:0', token });
  const provider = await startProvider({
    server: rendezvous.address,
    token,
    services: [{ name: 'echo', secret, to: `127.0.0.1:${echoPort}` }],
  });
  const visitor = await startVisitor({ server: rendezvous.address, token, name: 'echo', secret, listen: '127.0.0.1:0' });
  const paths: string[] = [];
  visitor.on('session', (s) => paths.push(s.path?.kind ?? 'none'));
  visitor.on('path', (p) => paths.push(p.path.kind));
  visitor.on('fatal', (err) => console.error(`visitor failed: ${err.code} ${err.message}`));

  try {
    // A plain TCP client of the visitor's port: its bytes cross the tunnel to the echo service.
    const client = net.connect(visitor.address.port, visitor.address.host);
    client.end(message);
    const chunks: Buffer[] = [];
    for await (const chunk of client) chunks.push(chunk as Buffer);
    return { reply: Buffer.concat(chunks).toString(), paths, rendezvous, provider, visitor };
  } finally {
    await visitor.stop();
    await provider.stop();
    await rendezvous.stop();
    echo.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { reply, paths } = await echoThroughBurrow('hello through burrow');
  console.log(`echo: ${reply} (paths: ${paths.join(' -> ')})`);
}

/** A plain TCP relay in one process: the baseline for the rendezvous relay. */
import net from 'node:net';

const { listenPort, targetPort } = JSON.parse(process.argv[2] ?? '{}') as { listenPort: number; targetPort: number };
const server = net.createServer((client) => {
  const upstream = net.connect(targetPort, '127.0.0.1');
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(listenPort, '127.0.0.1', () => process.send?.('ready'));

/**
 * A child process holding one end of a burrow tunnel (encrypted KCP + mux over
 * loopback UDP), for the benchmarks: the "visitor" end turns each TCP
 * connection into a stream, the "provider" end connects each stream to a TCP
 * target. A fixed session key stands in for the handshake; both ends seal
 * with aeadPreference() (BURROW_AEAD picks one), as a negotiation between
 * two peers on this host would.
 */
import net from 'node:net';
import { bindUdpSocket } from '../../src/net/index.js';
import { aeadPreference, deriveSessionKeys } from '../../src/crypto/index.js';
import { TunnelSession } from '../../src/session/index.js';
import { UdpPath } from '../../src/direct/udp-path.js';
import { bridge } from '../../peer/bridge.js';

export interface EndpointConfig {
  role: 'visitor' | 'provider';
  udpPort: number;
  peerUdpPort: number;
  /** visitor: TCP port to listen on; provider: TCP target port. */
  tcpPort: number;
  keyHex: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as EndpointConfig;
  const socket = await bindUdpSocket({ address: '127.0.0.1', port: cfg.udpPort });
  const role = cfg.role === 'visitor' ? 'initiator' : 'responder';
  // BENCH_PACKET_MTU: the sealed packet size to try (default the session's 1400).
  const packetMtu = process.env.BENCH_PACKET_MTU ? Number(process.env.BENCH_PACKET_MTU) : undefined;
  const session = new TunnelSession({
    keys: deriveSessionKeys(Buffer.from(cfg.keyHex, 'hex'), role, '', aeadPreference()),
    role,
    idleTimeoutMs: 0,
    ...(packetMtu === undefined ? {} : { packetMtu }),
  });
  const path = new UdpPath(socket, { address: '127.0.0.1', port: cfg.peerUdpPort }, packetMtu);
  session.setPath(path);
  socket.onMessage((data) => session.receive(data, path));

  if (cfg.role === 'visitor') {
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      sock.setNoDelay(true);
      bridge(sock, session.openStream());
    });
    server.listen(cfg.tcpPort, '127.0.0.1');
  } else {
    session.on('stream', (stream) => {
      const sock = net.connect({ port: cfg.tcpPort, host: '127.0.0.1', allowHalfOpen: true });
      sock.setNoDelay(true);
      bridge(sock, stream);
    });
  }
  // The parent reads wake-up counts from here (idle benchmark).
  process.on('message', (msg) => {
    if (msg === 'stats') process.send?.({ session: session.stats, kcp: session.kcpStats, udp: socket.stats, cpu: process.cpuUsage() });
  });
  process.on('SIGINT', () => process.exit(0));
  process.send?.('ready');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/** A UDP socket bound on loopback for tests, with an optional message handler (an echo, a sink). */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

export async function udp(onMessage?: (s: Socket, m: Buffer, r: AddressInfo) => void): Promise<Socket> {
  const s = createSocket('udp4');
  if (onMessage) s.on('message', (m, r) => onMessage(s, m, r));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

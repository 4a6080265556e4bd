import { after } from '../src/clock/scheduler.js';
import { ControlConnection, parseServerMessage, type ClientMessage, type ServerMessage } from '../src/control/index.js';
import { BurrowError } from '../src/errors.js';
import { resolveRuntime, type RuntimeOptions } from '../src/net/runtime.js';
import { RelayLink } from '../src/path/relay-link.js';
import type { HostPort } from './endpoint-arg.js';

/**
 * Opens a relay link: a fresh TCP connection to the rendezvous, joined to a
 * session with the single-use ticket the rendezvous gave over the
 * authenticated control channel. Resolves once the rendezvous has spliced it
 * to the other peer's link.
 */
export function openRelayLink(
  server: HostPort,
  connId: string,
  ticket: string,
  timeoutMs = 15_000,
  runtime: RuntimeOptions = {},
): Promise<RelayLink> {
  const rt = resolveRuntime(runtime);
  return new Promise((resolve, reject) => {
    const socket = rt.transport.connect({ host: server.host, port: server.port, noDelay: true });
    const conn = new ControlConnection<ServerMessage, ClientMessage>(socket, parseServerMessage);
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      conn.close();
      reject(new BurrowError('ERR_CONNECT_FAILED', `relay link: ${message}`));
    };
    const timer = after(rt.scheduler, timeoutMs, () => fail(`no relay-ok within ${timeoutMs} ms`), { keepAlive: true });
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    conn.on('invalid', (reason: string) => fail(`invalid frame from the rendezvous (${reason})`));
    conn.on('close', () => fail('the rendezvous closed the relay connection'));
    conn.on('message', (m: ServerMessage) => {
      if (m.type === 'challenge') conn.send({ type: 'relay-join', connId, ticket });
      else if (m.type === 'error') fail(`${m.code}: ${m.message}`);
      else if (m.type === 'relay-ok' && m.connId === connId) {
        settled = true;
        timer.cancel();
        const leftover = conn.detach();
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        resolve(new RelayLink(socket, { leftover, label: `rendezvous ${server.host}:${server.port}` }));
      }
    });
  });
}

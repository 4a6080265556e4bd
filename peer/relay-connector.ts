import { after } from '../src/clock/scheduler.js';
import { ControlConnection, parseServerMessage, type ClientMessage, type ServerMessage } from '../src/control/index.js';
import { BurrowError } from '../src/errors.js';
import { dialStream } from '../src/net/dial-stream.js';
import { resolveRuntime, type RuntimeOptions } from '../src/net/runtime.js';
import { RecordLink } from '../src/path/record-link.js';
import { formatHostPort, type HostPort } from './endpoint-arg.js';

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
): Promise<RecordLink> {
  const rt = resolveRuntime(runtime);
  return new Promise((resolve, reject) => {
    // A name with A and AAAA records is raced (Happy Eyeballs) before the link starts.
    const dial = dialStream(rt, { host: server.host, port: server.port, noDelay: true });
    let conn: ControlConnection<ServerMessage, ClientMessage> | null = null;
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      dial.cancel();
      conn?.close();
      reject(new BurrowError('ERR_CONNECT_FAILED', `relay link: ${message}`));
    };
    const timer = after(rt.scheduler, timeoutMs, () => fail(`no relay-ok within ${timeoutMs} ms`), { keepAlive: true });
    dial.socket.then(
      (socket) => {
        if (settled) {
          socket.destroy();
          return;
        }
        const c = new ControlConnection<ServerMessage, ClientMessage>(socket, parseServerMessage);
        conn = c;
        socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
        c.on('invalid', (reason: string) => fail(`invalid frame from the rendezvous (${reason})`));
        c.on('close', () => fail('the rendezvous closed the relay connection'));
        c.on('message', (m: ServerMessage) => {
          if (m.type === 'challenge') c.send({ type: 'relay-join', connId, ticket });
          else if (m.type === 'error') fail(`${m.code}: ${m.message}`);
          else if (m.type === 'relay-ok' && m.connId === connId) {
            settled = true;
            timer.cancel();
            const leftover = c.detach();
            socket.removeAllListeners('error');
            socket.removeAllListeners('close');
            resolve(new RecordLink(socket, { leftover, label: `rendezvous ${formatHostPort(server)}` }));
          }
        });
      },
      (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
    );
  });
}

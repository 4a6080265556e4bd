/**
 * The provider's handshake table against a rendezvous that misbehaves: a
 * second 'incoming' under a connection id already in use is refused and
 * changes nothing (it neither replaces the handshake in progress nor
 * touches the session running under that id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { ControlConnection, parseClientMessage, serverProof, type ClientMessage, type ServerMessage } from '../../src/control/index.js';
import { HandshakeInitiator } from '../../src/handshake/index.js';
import { Logger } from '../../src/log/logger.js';
import { Provider } from '../../peer/provider.js';
import { waitFor } from './harness.js';

const TOKEN = 'tok';

/** Just enough of a rendezvous: logs peers in, records what they send, and lets the test speak for it. */
async function fakeRendezvous() {
  const received: ClientMessage[] = [];
  const conns: ControlConnection<ClientMessage, ServerMessage>[] = [];
  let control: ControlConnection<ClientMessage, ServerMessage> | null = null;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const conn = new ControlConnection<ClientMessage, ServerMessage>(socket, parseClientMessage);
    conns.push(conn);
    const nonce = randomBytes(32);
    conn.send({ type: 'challenge', nonce: nonce.toString('base64'), server: 'burrow-rendezvous' });
    conn.on('message', (m: ClientMessage) => {
      received.push(m);
      if (m.type === 'login') {
        control = conn;
        const proof = serverProof(TOKEN, nonce, Buffer.from(m.nonce, 'base64'), m.role);
        conn.send({ type: 'welcome', proof: proof.toString('base64'), peerId: 'p1' });
      } else if (m.type === 'register') {
        conn.send({ type: 'registered', services: m.services });
      } else if (m.type === 'relay-join') {
        // Splice at once (to nobody): the socket is a relay link from now on; its bytes are drained.
        conn.send({ type: 'relay-ok', connId: m.connId });
        conn.detach();
        socket.resume();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    send(m: ServerMessage) {
      assert.ok(control !== null, 'the provider is logged in');
      control.send(m);
    },
    get loggedIn() {
      return control !== null;
    },
    close() {
      for (const c of conns) c.close();
      server.close();
    },
  };
}

function visitorHello(connId: string): HandshakeInitiator {
  return new HandshakeInitiator({ secret: 'sec', service: 'svc', randomBytes: (n) => randomBytes(n) }, Buffer.from(connId, 'hex'));
}

const quiet = new Logger({ level: 'error', format: 'json', sink: { write() {} } });

async function startProvider(port: number): Promise<Provider> {
  const provider = new Provider({
    server: { host: '127.0.0.1', port },
    token: TOKEN,
    services: [{ name: 'svc', secret: 'sec', target: { host: '127.0.0.1', port: 9 } }],
    logger: quiet,
    mode: 'stcp',
  });
  provider.start();
  return provider;
}

const answersFor = (received: ClientMessage[], connId: string) =>
  received.filter((m): m is Extract<ClientMessage, { connId: string }> => 'connId' in m && m.connId === connId && (m.type === 'accept' || m.type === 'refuse'));

test('a duplicate incoming for a handshake in progress is refused; the first handshake completes', { timeout: 20_000 }, async () => {
  const rv = await fakeRendezvous();
  const provider = await startProvider(rv.port);
  try {
    await waitFor(() => rv.loggedIn && rv.received.some((m) => m.type === 'register'), 5_000, 'login');
    const connId = randomBytes(16).toString('hex');
    const first = visitorHello(connId);
    rv.send({ type: 'incoming', connId, service: 'svc', hello: first.hello().toString('base64') });
    await waitFor(() => answersFor(rv.received, connId).length === 1, 5_000, 'the accept');
    const accept = answersFor(rv.received, connId)[0]!;
    assert.equal(accept.type, 'accept');

    rv.send({ type: 'incoming', connId, service: 'svc', hello: visitorHello(connId).hello().toString('base64') });
    await waitFor(() => answersFor(rv.received, connId).length === 2, 5_000, 'the answer to the duplicate');
    const dup = answersFor(rv.received, connId)[1]!;
    assert.equal(dup.type, 'refuse', 'the duplicate is refused');
    assert.equal(dup.type === 'refuse' ? dup.code : '', 'BUSY');

    // The first handshake was left as it was: its confirm starts the session (the provider joins the relay).
    const { confirm, result } = first.onReply(Buffer.from(accept.type === 'accept' ? accept.reply : '', 'base64'));
    assert.ok(!(result instanceof Error), 'the visitor accepts the reply');
    rv.send({ type: 'confirm', connId, confirm: confirm.toString('base64'), ticket: randomBytes(32).toString('base64') });
    await waitFor(() => rv.received.some((m) => m.type === 'relay-join' && m.connId === connId), 5_000, 'the relay join of the session');
    assert.equal(answersFor(rv.received, connId).length, 2, 'no refusal of the real confirm');
  } finally {
    provider.stop();
    rv.close();
  }
});

test('an incoming under the id of a running session is refused and leaves the session alone', { timeout: 20_000 }, async () => {
  const rv = await fakeRendezvous();
  const provider = await startProvider(rv.port);
  try {
    await waitFor(() => rv.loggedIn && rv.received.some((m) => m.type === 'register'), 5_000, 'login');
    const connId = randomBytes(16).toString('hex');
    const v = visitorHello(connId);
    rv.send({ type: 'incoming', connId, service: 'svc', hello: v.hello().toString('base64') });
    await waitFor(() => answersFor(rv.received, connId).length === 1, 5_000, 'the accept');
    const accept = answersFor(rv.received, connId)[0]!;
    const { confirm } = v.onReply(Buffer.from(accept.type === 'accept' ? accept.reply : '', 'base64'));
    rv.send({ type: 'confirm', connId, confirm: confirm.toString('base64'), ticket: randomBytes(32).toString('base64') });
    await waitFor(() => provider.sessionCount === 1, 5_000, 'the session');

    rv.send({ type: 'incoming', connId, service: 'svc', hello: visitorHello(connId).hello().toString('base64') });
    await waitFor(() => answersFor(rv.received, connId).length === 2, 5_000, 'the answer to the duplicate');
    const dup = answersFor(rv.received, connId)[1]!;
    assert.equal(dup.type, 'refuse');
    assert.equal(provider.sessionCount, 1, 'the running session is untouched');
  } finally {
    provider.stop();
    rv.close();
  }
});

/** A bare control client for driving a real RendezvousServer over loopback, message by message. */
import net from 'node:net';
import { once } from 'node:events';
import { ControlConnection } from '../../src/control/connection.js';
import { clientProof, newNonce } from '../../src/control/login.js';
import { parseServerMessage, type ClientMessage, type ServerMessage } from '../../src/control/messages.js';

export class LoopbackPeer {
  readonly inbox: ServerMessage[] = [];
  private waiters: { pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  private constructor(readonly conn: ControlConnection<ServerMessage, ClientMessage>) {
    conn.on('message', (m: ServerMessage) => {
      const w = this.waiters.findIndex((x) => x.pred(m));
      if (w >= 0) {
        const [found] = this.waiters.splice(w, 1);
        found!.resolve(m);
      } else {
        this.inbox.push(m);
      }
    });
    conn.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed (inbox: ${this.inbox.map((m) => m.type).join(',')})`));
    });
  }

  /** Connects and logs in with `token` as `role`. */
  static async login(port: number, token: string, role: 'provider' | 'visitor', host = '127.0.0.1'): Promise<LoopbackPeer> {
    const socket = net.connect(port, host);
    await once(socket, 'connect');
    const peer = new LoopbackPeer(new ControlConnection<ServerMessage, ClientMessage>(socket, parseServerMessage));
    const challenge = await peer.next('challenge');
    const nonce = newNonce();
    const proof = clientProof(token, Buffer.from(challenge.nonce, 'base64'), nonce, role);
    peer.send({ type: 'login', role, nonce: nonce.toString('base64'), proof: proof.toString('base64') });
    await peer.next('welcome');
    return peer;
  }

  send(m: ClientMessage): void {
    this.conn.send(m);
  }

  /** The next message of this type (already received, or within `ms`). */
  next<T extends ServerMessage['type']>(type: T, ms = 5000, also: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true): Promise<Extract<ServerMessage, { type: T }>> {
    type M = Extract<ServerMessage, { type: T }>;
    const pred = (m: ServerMessage): boolean => m.type === type && also(m as M);
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as M);
    if (this.closed) return Promise.reject(new Error(`connection closed before a "${type}"`));
    return new Promise<M>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no "${type}" within ${ms} ms (inbox: ${this.inbox.map((m) => m.type).join(',')})`));
      }, ms);
      const done = (m: ServerMessage) => {
        clearTimeout(timer);
        resolve(m as M);
      };
      this.waiters.push({
        pred,
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Messages of a type received and not yet taken. */
  count(type: ServerMessage['type']): number {
    return this.inbox.filter((m) => m.type === type).length;
  }

  close(): void {
    this.conn.close();
  }
}

/** A session id as visitors make them: 16 bytes as hex. */
export function sessionId(n: number): string {
  return n.toString(16).padStart(32, '0');
}

export const B64 = Buffer.alloc(16, 7).toString('base64');

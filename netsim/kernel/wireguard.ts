/**
 * A userspace WireGuard interface (Debian's wireguard-go; this kernel has no
 * WireGuard module here) inside a lab namespace, configured with `wg`.
 *
 * wireguard-go's control socket is /var/run/wireguard/<name>.sock, one
 * directory for every namespace, so each interface gets a name unique on the
 * machine (`wg<n>-<runid>`). The process runs in the foreground as a lab
 * process (killed on `lab.close()`); `stop()` also removes a socket file a
 * killed daemon left behind. The private key reaches `wg` in a 0600 file in
 * a 0700 temporary directory, removed as soon as `wg set` has read it (never
 * in an argument; `/dev/stdin` does not work: Node's stdio pipes are sockets).
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, LabNode, LabProcess } from './lab.js';
import { sleep } from './exec.js';
import { ifName } from './names.js';
import { waitUdpBound } from './udp-bound.js';

const SOCKET_DIR = '/var/run/wireguard';
let counter = 0;

export interface WgKeyPair {
  /** base64, as `wg` wants them. */
  privateKey: string;
  publicKey: string;
}

/** A Curve25519 key pair (what `wg genkey | wg pubkey` makes). */
export function wgKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (typeof d !== 'string' || typeof x !== 'string') throw new Error('x25519 key export gave no raw key');
  return { privateKey: Buffer.from(d, 'base64url').toString('base64'), publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

export interface WgPeer {
  publicKey: string;
  /** "ip:port"; omit on the side that learns its peer from the first handshake. */
  endpoint?: string;
  allowedIps: string;
  persistentKeepaliveSeconds?: number;
}

export interface WireGuardOptions {
  keys: WgKeyPair;
  /** The interface address with prefix, e.g. 10.77.0.1/24. */
  address: string;
  listenPort: number;
  mtu: number;
  peer: WgPeer;
}

export interface WireGuardInterface {
  readonly node: LabNode;
  readonly name: string;
  /** The interface address without prefix. */
  readonly ip: string;
  readonly process: LabProcess;
  /** `wg show <name> <what>` (e.g. latest-handshakes, transfer, endpoints). */
  show(what: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts wireguard-go in `node`, configures it and brings it up; everything bounded, cleaned up on failure. */
export async function startWireGuard(lab: Lab, node: LabNode, o: WireGuardOptions): Promise<WireGuardInterface> {
  const name = ifName(`wg${counter++ % 100}`, lab.runId);
  const sock = `${SOCKET_DIR}/${name}.sock`;
  const proc = lab.spawn(node, 'wireguard-go', ['-f', name]);
  // A daemon killed with the lab on exit (SIGKILL after a grace) may leave its socket file.
  const removeSock = (): void => rmSync(sock, { force: true });
  process.once('exit', removeSock);
  const stop = async (): Promise<void> => {
    await proc.stop(1000);
    process.removeListener('exit', removeSock);
    removeSock();
  };
  try {
    const deadline = Date.now() + 5000;
    while (!existsSync(sock)) {
      if (!proc.running) throw new Error(`wireguard-go exited in ${node.ns}: ${proc.stderr().slice(-300)}`);
      if (Date.now() > deadline) throw new Error(`wireguard-go made no control socket ${sock} within 5 s`);
      await sleep(20);
    }
    const p = o.peer;
    const dir = mkdtempSync(join(tmpdir(), 'burrow-wg-'));
    const keyFile = join(dir, 'private.key');
    try {
      writeFileSync(keyFile, `${o.keys.privateKey}\n`, { mode: 0o600 });
      await lab.exec(
      node,
      'wg',
      [
        'set', name, 'listen-port', String(o.listenPort), 'private-key', keyFile,
        'peer', p.publicKey, 'allowed-ips', p.allowedIps,
        ...(p.endpoint ? ['endpoint', p.endpoint] : []),
        ...(p.persistentKeepaliveSeconds ? ['persistent-keepalive', String(p.persistentKeepaliveSeconds)] : []),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await lab.exec(node, 'ip', ['addr', 'add', o.address, 'dev', name]);
    await lab.exec(node, 'ip', ['link', 'set', name, 'mtu', String(o.mtu), 'up']);
    await waitUdpBound(lab, node, `*:${o.listenPort}`, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  const ip = o.address.split('/')[0] ?? o.address;
  return {
    node,
    name,
    ip,
    process: proc,
    show: async (what) => (await lab.exec(node, 'wg', ['show', name, what])).stdout,
    stop,
  };
}

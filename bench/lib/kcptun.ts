import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './tcp.js';
import { atTeardown } from './teardown.js';

/** kcptun in the configuration the issue names: fast3, big windows, no crypto, no FEC. */
const KCPTUN_FLAGS = [
  '--mode', 'fast3',
  '--sndwnd', '1024',
  '--rcvwnd', '1024',
  '--crypt', 'none',
  '--nocomp',
  '--datashard', '0',
  '--parityshard', '0',
  '--quiet',
];

export function kcptunAvailable(): boolean {
  return spawnSync('kcptun-client', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface Kcptun {
  /** TCP port of the kcptun client: connect here to reach `target`. */
  readonly port: number;
  /** kcptun-client (the visitor side) and kcptun-server (in front of the target). */
  readonly pids: { visitor: number; provider: number };
  stop(): void;
}

/** Starts kcptun-server (in front of `targetPort`) and kcptun-client on loopback. */
export async function startKcptun(targetPort: number): Promise<Kcptun> {
  const udpPort = await freePort();
  const clientPort = await freePort();
  const procs: ChildProcess[] = [];
  const stop = atTeardown(() => {
    for (const p of procs) p.kill('SIGKILL');
  });
  procs.push(
    spawn('kcptun-server', ['-l', `127.0.0.1:${udpPort}`, '-t', `127.0.0.1:${targetPort}`, ...KCPTUN_FLAGS], {
      stdio: 'ignore',
    }),
  );
  procs.push(
    spawn('kcptun-client', ['-l', `127.0.0.1:${clientPort}`, '-r', `127.0.0.1:${udpPort}`, ...KCPTUN_FLAGS], {
      stdio: 'ignore',
    }),
  );
  for (const p of procs) p.on('error', () => {});
  await new Promise((r) => setTimeout(r, 500));
  const [server, client] = procs;
  if (!server?.pid || !client?.pid || procs.some((p) => p.exitCode !== null)) {
    stop();
    throw new Error(`kcptun exited early (codes ${procs.map((p) => p.exitCode).join(', ')})`);
  }
  return { port: clientPort, pids: { visitor: client.pid, provider: server.pid }, stop };
}

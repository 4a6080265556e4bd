import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort } from './tcp.js';
import type { EndpointConfig } from './tunnel-endpoint.js';

/** Path of a sibling module, in whichever form (.ts under tsx, .js when built) is running. */
export function sibling(name: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
}

export function startChild(module: string, arg: unknown): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(module, [JSON.stringify(arg)], { execArgv: [...process.execArgv, ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${module} did not start in 10 s`)), 10_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${module} exited with code ${code}`));
    });
  });
}

/** Asks a tunnel endpoint child for its counters. */
export function childStats(child: ChildProcess): Promise<Record<string, Record<string, number>>> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as Record<string, Record<string, number>>));
    child.send('stats');
  });
}

export interface Tunnel {
  /** Connect here to reach the target through the tunnel. */
  readonly port: number;
  readonly visitor: ChildProcess;
  readonly provider: ChildProcess;
  stop(): void;
}

/** Two child processes holding a burrow tunnel over loopback UDP, in front of targetPort. */
export async function startTunnel(targetPort: number): Promise<Tunnel> {
  const [vUdp, pUdp, listen] = [await freePort(), await freePort(), await freePort()];
  const keyHex = randomBytes(32).toString('hex');
  const endpoint = sibling('tunnel-endpoint');
  const provider = await startChild(endpoint, {
    role: 'provider', udpPort: pUdp, peerUdpPort: vUdp, tcpPort: targetPort, keyHex,
  } satisfies EndpointConfig);
  const visitor = await startChild(endpoint, {
    role: 'visitor', udpPort: vUdp, peerUdpPort: pUdp, tcpPort: listen, keyHex,
  } satisfies EndpointConfig);
  return {
    port: listen,
    visitor,
    provider,
    stop() {
      // SIGTERM lets a child write its CPU profile when BENCH_CPU_PROF is set.
      const signal = process.env.BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL';
      visitor.kill(signal);
      provider.kill(signal);
    },
  };
}

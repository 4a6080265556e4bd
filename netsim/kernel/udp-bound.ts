/** Waiting (bounded) until a program in a lab namespace has bound its UDP socket. */
import type { Lab, LabNode, LabProcess } from './lab.js';
import { sleep } from './exec.js';

/**
 * Polls `ss` in the node's namespace until a UDP socket is bound on
 * `endpoint` ("ip:port", or "*:port" for any address). Rejects if `proc`
 * exits first or after `timeoutMs`.
 */
export async function waitUdpBound(lab: Lab, node: LabNode, endpoint: string, proc?: LabProcess, timeoutMs = 5000): Promise<void> {
  const port = endpoint.slice(endpoint.lastIndexOf(':') + 1);
  const anyAddr = endpoint.startsWith('*:');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && !proc.running) throw new Error(`${proc.cmd} exited before binding UDP ${endpoint}: ${(proc.stderr() || proc.stdout()).slice(-300)}`);
    last = (await lab.exec(node, 'ss', ['-H', '-u', '-l', '-n'])).stdout;
    const locals = last.split('\n').map((l) => l.trim().split(/\s+/)[3] ?? '');
    if (locals.some((l) => (anyAddr ? l.endsWith(`:${port}`) : l === endpoint))) return;
    await sleep(30);
  }
  throw new Error(`UDP ${endpoint} not bound in ${node.ns} within ${timeoutMs} ms; ss says: ${last.trim().slice(0, 300)}`);
}

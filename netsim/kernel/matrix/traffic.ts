/**
 * The two ends of the matrix's byte-exact duplex check (../../matrix/duplex-check.ts)
 * as one small program that the kernel lane starts inside lab namespaces
 * (compiled: dist/netsim/kernel/matrix/traffic.js), on node:net.
 *
 *   traffic target <ip> <port> <bytes> <seed>
 *     A duplex TCP service. On every connection it sends <bytes> of data
 *     generated from <seed> at once, hashes what it receives, and after
 *     <bytes> have arrived sends the 32-byte SHA-256 of them as a trailer.
 *     Prints {"ready":true} once listening.
 *
 *   traffic client <ip> <port> <bytes> <upSeed> <downSeed> <timeoutMs>
 *     Connects, sends <bytes> generated from <upSeed>, reads <bytes> + 32,
 *     and checks both directions: the data against <downSeed>'s SHA-256, the
 *     trailer against the SHA-256 of what it sent. Prints one JSON line
 *     (ClientReport) and exits 0 when both match.
 *
 * Neither end relies on half-close: both count bytes, so a tunnel that loses
 * or adds a byte shows up as a mismatch or a timeout, never as a hang.
 */
import { performance } from 'node:perf_hooks';
import { at } from '../../../src/util/at.js';
import { fileURLToPath } from 'node:url';
import { nodeStreamTransport } from '../../../src/net/node-stream-transport.js';
import { payload, runClient, startTarget, type TransferReport } from '../../matrix/duplex-check.js';

/** What the client prints. */
export type ClientReport = TransferReport;

function say(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function target(ip: string, port: number, size: number, seed: string): Promise<void> {
  try {
    await startTarget(nodeStreamTransport, ip, port, payload(seed, size));
    say({ ready: true, port });
  } catch (e) {
    say({ error: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  }
}

async function client(ip: string, port: number, size: number, upSeed: string, downSeed: string, timeoutMs: number): Promise<void> {
  const run = runClient(nodeStreamTransport, ip, port, payload(upSeed, size), payload(downSeed, size), () => performance.now());
  const timer = setTimeout(() => run.abort(`timed out after ${timeoutMs} ms (received ${run.received} of ${size})`), timeoutMs);
  const { downSha256: _, ...report } = await run.result;
  clearTimeout(timer);
  say(report);
  process.exitCode = report.ok ? 0 : 1;
}

function main(argv: string[]): void {
  const [mode, ip, port, bytes, ...rest] = argv;
  const size = Number(bytes);
  if (!ip || !Number.isInteger(Number(port)) || !Number.isInteger(size) || size <= 0) {
    process.stderr.write('usage: traffic target <ip> <port> <bytes> <seed> | traffic client <ip> <port> <bytes> <upSeed> <downSeed> <timeoutMs>\n');
    process.exit(2);
  }
  if (mode === 'target' && rest.length === 1) void target(ip, Number(port), size, at(rest, 0));
  else if (mode === 'client' && rest.length === 3) void client(ip, Number(port), size, at(rest, 0), at(rest, 1), Number(rest[2]));
  else {
    process.stderr.write(`traffic: bad arguments ${JSON.stringify(argv)}\n`);
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));

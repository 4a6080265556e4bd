/**
 * KCP core micro-benchmark: a lossless in-memory stream-mode transfer between
 * two KcpConnections in one process (MTU 1400, windows 1024, fast3, no
 * congestion control). Prints one line with MB/s.
 *
 *   npx tsx bench/kcp-micro.ts [megabytes]
 */
import { at } from '../src/util/at.js';
import { KcpConnection } from '../src/kcp/index.js';

const totalMB = Number(process.argv[2] ?? 512);
const TOTAL = totalMB * 1024 * 1024;
const CHUNK = 64 * 1024;

const toB: Buffer[] = [];
const toA: Buffer[] = [];
const common = { conv: 0x42, mtu: 1400, sndwnd: 1024, rcvwnd: 1024, mode: 'fast3', noCongestion: true, stream: true } as const;
// output() views are only valid during the call, so the "wire" copies them.
const a = new KcpConnection({ ...common, output: (d) => void toB.push(Buffer.from(d)) });
const b = new KcpConnection({ ...common, output: (d) => void toA.push(Buffer.from(d)) });

const chunk = Buffer.alloc(CHUNK);
for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 31 + 7) & 0xff;

let sent = 0;
let received = 0;
let checksum = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
while (received < TOTAL) {
  const now = performance.now();
  while (sent < TOTAL && a.waitSnd() < 2048) {
    a.send(chunk);
    sent += CHUNK;
  }
  a.flush(now);
  for (const d of toB) b.input(d, now);
  toB.length = 0;
  for (let r = b.recv(); r !== null; r = b.recv()) {
    received += r.length;
    checksum = (checksum + at(r, 0)) | 0;
  }
  b.flush(now);
  for (const d of toA) a.input(d, now);
  toA.length = 0;
}
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSecs = (cpu.user + cpu.system) / 1e6;
const mb = received / 1024 / 1024;
// CPU-time throughput is printed too: wall time is noisy on a shared machine.
console.log(
  `kcp-micro: ${mb.toFixed(0)} MB in ${secs.toFixed(2)} s = ${(mb / secs).toFixed(1)} MB/s ` +
    `(${(mb / cpuSecs).toFixed(1)} MB per CPU-second; ` +
    `segments ${a.stats.segmentsSent}, retransmits ${a.stats.retransmits}, datagrams ${a.stats.datagramsOut}, check ${checksum})`,
);

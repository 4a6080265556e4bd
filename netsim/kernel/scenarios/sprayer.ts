/**
 * The attacker's program, run on the lab's outside host as
 * `node -e SPRAYER_SOURCE -- DURATION_MS UDP_PPS TCP_IN_FLIGHT TARGET…`
 * (plain node:dgram/net; a constant source, every variable in argv).
 *
 *   TARGET  udp:IP:LO-HI   datagrams to random ports in LO..HI
 *           tcp:IP:PORT    connections (SYNs) that, when accepted, send garbage
 *
 * UDP payloads, in turn: random bytes (1-1200), packets that look like
 * burrow's (0xb1 = sealed session packet, then 23-1399 random bytes) and
 * like its punch probes (0xb2, then 15-199 random bytes). TCP garbage, in
 * turn: random bytes, a 4 GiB length prefix, a well-framed but invalid JSON
 * frame. At most TCP_IN_FLIGHT connections at once (a slot waits 20 ms
 * between two), each closed after 300 ms. Ends after DURATION_MS (at most 10 min) or on SIGTERM, printing one
 * JSON line of counts.
 */
export const SPRAYER_SOURCE = String.raw`
const dgram = require('node:dgram');
const net = require('node:net');
const { randomBytes, randomInt } = require('node:crypto');
const [dur, pps, inflight, ...targets] = process.argv.slice(1);
const num = (s) => { const n = Number(s); if (!Number.isFinite(n) || n < 0) { throw new Error('bad number ' + s); } return n; };
const udp = [];
const tcp = [];
for (const t of targets) {
  const m = /^(udp|tcp):(\d+\.\d+\.\d+\.\d+):(\d+)(?:-(\d+))?$/.exec(t);
  if (!m) { throw new Error('bad target ' + t); }
  if (m[1] === 'udp') { udp.push({ ip: m[2], lo: num(m[3]), hi: num(m[4] || m[3]) }); } else { tcp.push({ ip: m[2], port: num(m[3]) }); }
}
const stats = { udpSent: 0, udpBytes: 0, udpErrors: 0, tcpAttempts: 0, tcpConnected: 0, tcpRefused: 0, tcpReset: 0, tcpTimedOut: 0, tcpOtherErrors: 0, tcpBytes: 0 };
const s = dgram.createSocket('udp4');
s.on('error', () => { stats.udpErrors++; });
let k = 0;
const payload = () => {
  const kind = k++ % 3;
  if (kind === 0) { return randomBytes(randomInt(1, 1201)); }
  const b = randomBytes(kind === 1 ? randomInt(24, 1400) : randomInt(16, 200));
  b[0] = kind === 1 ? 0xb1 : 0xb2;
  return b;
};
const perTick = Math.max(1, Math.round(Math.min(num(pps), 50000) / 100));
const udpTimer = udp.length === 0 ? null : setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    const t = udp[randomInt(0, udp.length)];
    const p = payload();
    s.send(p, randomInt(t.lo, t.hi + 1), t.ip, (e) => { if (e) { stats.udpErrors++; } else { stats.udpSent++; stats.udpBytes += p.length; } });
  }
}, 10);
let g = 0;
const garbage = () => {
  const kind = g++ % 3;
  if (kind === 0) { return randomBytes(randomInt(1, 4097)); }
  if (kind === 1) { return Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), randomBytes(64)]); }
  const body = Buffer.from('{"type":"login","role":"provider","nonce":' + randomBytes(8).toString('hex'));
  const len = Buffer.alloc(4); len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
let open = 0;
let stopped = false;
const connectOne = () => {
  if (stopped || tcp.length === 0) { return; }
  const t = tcp[randomInt(0, tcp.length)];
  open++;
  stats.tcpAttempts++;
  const c = net.connect({ host: t.ip, port: t.port });
  let settled = false;
  const done = () => { if (settled) { return; } settled = true; open--; c.destroy(); setTimeout(connectOne, 20); };
  const timer = setTimeout(() => { stats.tcpTimedOut++; done(); }, 1000);
  c.on('connect', () => {
    clearTimeout(timer);
    stats.tcpConnected++;
    const b = garbage();
    c.write(b, () => { stats.tcpBytes += b.length; });
    setTimeout(done, 300);
  });
  c.on('error', (e) => {
    clearTimeout(timer);
    if (e.code === 'ECONNREFUSED') { stats.tcpRefused++; } else if (e.code === 'ECONNRESET' || e.code === 'EPIPE') { stats.tcpReset++; } else { stats.tcpOtherErrors++; }
    done();
  });
  c.on('close', done);
};
for (let i = 0; i < Math.min(num(inflight), 64); i++) { connectOne(); }
const finish = () => {
  if (stopped) { return; }
  stopped = true;
  if (udpTimer) { clearInterval(udpTimer); }
  process.stdout.write(JSON.stringify({ stats }) + '\n');
  setTimeout(() => process.exit(0), 50);
};
process.on('SIGTERM', finish);
setTimeout(finish, Math.min(num(dur), 600000));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
`;

export interface SprayStats {
  udpSent: number;
  udpBytes: number;
  udpErrors: number;
  tcpAttempts: number;
  tcpConnected: number;
  tcpRefused: number;
  tcpReset: number;
  tcpTimedOut: number;
  tcpOtherErrors: number;
  tcpBytes: number;
}

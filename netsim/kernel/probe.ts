/**
 * A tiny UDP/TCP probe run inside lab namespaces as `node -e PROBE_SOURCE -- mode args…`.
 * The source is a constant; everything variable travels as separate argv
 * entries. Each mode prints one JSON line per event and a final JSON result.
 * Every mode ends on its own after a bounded time.
 *
 *   udp-echo  BIND_IP PORT LIFETIME_MS        reply "ECHO ip:port" to every datagram (lifetime ≤ 10 min)
 *   udp-send  BIND_PORT DST_IP DST_PORT COUNT INTERVAL_MS WAIT_MS [TTL]
 *   udp-listen BIND_PORT WAIT_MS [FAMILY]     collect datagrams, then report them (FAMILY 4 or 6, default 4)
 *
 * An IPv6 address (bind IP or destination) makes a `udp6` socket (ipv6Only, so the
 * families stay apart); IPv4 addresses keep the `udp4` socket they always had.
 *   tcp-echo  BIND_IP PORT LIFETIME_MS
 *   tcp-connect DST_IP DST_PORT TIMEOUT_MS
 */
export const PROBE_SOURCE = String.raw`
const dgram = require('node:dgram');
const net = require('node:net');
const [mode, ...a] = process.argv.slice(1);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const num = (s) => { const n = Number(s); if (!Number.isFinite(n)) { throw new Error('bad number ' + s); } return n; };
const MAX_MS = 60000;
// Echo servers live as long as a test file needs them (a loaded machine stretches a file
// past a minute); the lab kills them on close() anyway.
const MAX_LIFE_MS = 600000;
const sock = (v6) => dgram.createSocket(v6 ? { type: 'udp6', reuseAddr: true, ipv6Only: true } : { type: 'udp4', reuseAddr: true });
const life = (ms) => setTimeout(() => process.exit(0), Math.min(num(ms), MAX_LIFE_MS));
if (mode === 'udp-echo') {
  const s = sock(a[0].includes(':'));
  s.on('message', (m, r) => { s.send('ECHO ' + r.address + ':' + r.port + ' ' + m.toString().slice(0, 200), r.port, r.address); });
  s.bind(num(a[1]), a[0], () => out({ ready: true, port: s.address().port }));
  life(a[2]);
} else if (mode === 'udp-send') {
  const [bindPort, dst, dstPort, count, interval, wait, ttl] = a;
  const s = sock(dst.includes(':'));
  const replies = [];
  s.on('message', (m, r) => replies.push({ from: r.address, port: r.port, data: m.toString() }));
  s.bind(num(bindPort), () => {
    if (ttl) s.setTTL(num(ttl));
    const n = Math.min(num(count), 10000);
    let i = 0;
    const tick = () => {
      if (i < n) { s.send('probe ' + i, num(dstPort), dst); i++; setTimeout(tick, num(interval)); return; }
      setTimeout(() => { out({ local: s.address().port, sent: n, replies }); process.exit(0); }, Math.min(num(wait), MAX_MS));
    };
    tick();
  });
} else if (mode === 'udp-listen') {
  const s = sock(a[2] === '6');
  const received = [];
  s.on('message', (m, r) => received.push({ from: r.address, port: r.port, data: m.toString() }));
  s.bind(num(a[0]), () => {
    out({ ready: true, port: s.address().port });
    setTimeout(() => { out({ received }); process.exit(0); }, Math.min(num(a[1]), MAX_MS));
  });
} else if (mode === 'tcp-echo') {
  const srv = net.createServer((c) => { c.on('error', () => {}); c.on('data', (d) => c.write(d)); });
  srv.listen(num(a[1]), a[0], () => out({ ready: true, port: srv.address().port }));
  life(a[2]);
} else if (mode === 'tcp-connect') {
  const c = net.connect(num(a[1]), a[0]);
  const t = setTimeout(() => { out({ ok: false, error: 'timeout' }); process.exit(0); }, Math.min(num(a[2]), MAX_MS));
  c.on('connect', () => c.write('hello'));
  c.on('data', (d) => { clearTimeout(t); out({ ok: d.toString() === 'hello' }); process.exit(0); });
  c.on('error', (e) => { clearTimeout(t); out({ ok: false, error: e.code || e.message }); process.exit(0); });
} else {
  process.stderr.write('unknown probe mode ' + mode + '\n');
  process.exit(2);
}
`;

export interface UdpDatagram {
  from: string;
  port: number;
  data: string;
}

/** Parses the last JSON line of a probe's stdout. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`probe printed no result: ${JSON.stringify(stdout.slice(-300))}`);
  return JSON.parse(last) as T;
}

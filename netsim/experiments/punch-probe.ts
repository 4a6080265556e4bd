/**
 * The two tiny programs of the TTL-priming experiment, run inside lab
 * namespaces as `node -e SOURCE -- args…` (plain node:dgram, no burrow code).
 * Every variable travels as a separate argv entry; times are wall-clock epoch
 * milliseconds, so two processes in two namespaces on one machine act on the
 * same schedule. Each program ends on its own after a bounded time.
 *
 *   echo  BIND_IP PORT LIFETIME_MS
 *     Replies "ECHO ip:port" to every datagram (the public endpoint it saw).
 *
 *   punch BIND_PORT SERVER_IP SERVER_PORT PEER_IP PEER_PORT PRIME_AT PRIME_COUNT PRIME_TTL PROBE_AT PROBE_COUNT INTERVAL_MS END_AT
 *     Registers with the echo server first (as a peer learns its mapping),
 *     then at PRIME_AT (0 = never) sends PRIME_COUNT datagrams to the peer
 *     with TTL PRIME_TTL, at PROBE_AT starts PROBE_COUNT probes every
 *     INTERVAL_MS with the default TTL, and at END_AT prints one JSON line:
 *     { local, mapped, primesSent, probesSent, firstProbeAt, received: [{ from, port, data, at }], late }
 *     (firstProbeAt: epoch ms with sub-millisecond precision, to measure the real skew).
 *     `late` lists the actions that ran more than 5 ms after their time.
 */
export const PUNCH_PROBE_SOURCE = String.raw`
const dgram = require('node:dgram');
const [mode, ...a] = process.argv.slice(1);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const num = (s) => { const n = Number(s); if (!Number.isFinite(n)) { throw new Error('bad number ' + s); } return n; };
const MAX_MS = 15 * 60 * 1000;
if (mode === 'echo') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => { s.send('ECHO ' + r.address + ':' + r.port, r.port, r.address); });
  s.bind(num(a[1]), a[0], () => out({ ready: true, port: s.address().port }));
  setTimeout(() => process.exit(0), Math.min(num(a[2]), MAX_MS));
} else if (mode === 'punch') {
  const [bindPort, srvIp, srvPort, peerIp, peerPort, primeAt, primeCount, primeTtl, probeAt, probeCount, interval, endAt] = a;
  const s = dgram.createSocket('udp4');
  const received = [];
  const late = [];
  let mapped = null;
  let primesSent = 0;
  let probesSent = 0;
  let firstProbeAt = null;
  const nowUs = () => performance.timeOrigin + performance.now();
  const at = (t, what, f) => {
    const run = () => { const lag = Date.now() - t; if (lag > 5) { late.push({ what, lagMs: lag }); } f(); };
    setTimeout(run, Math.max(0, t - Date.now()));
  };
  s.on('message', (m, r) => {
    const data = m.toString();
    if (r.address === srvIp && data.startsWith('ECHO ')) { mapped = data.slice(5); return; }
    received.push({ from: r.address, port: r.port, data: data.slice(0, 40), at: Date.now() });
  });
  s.on('error', (e) => out({ error: e.message }));
  s.bind(num(bindPort), () => {
    s.send('hello', num(srvPort), srvIp);
    out({ ready: true, port: s.address().port });
    if (num(primeAt) > 0) {
      at(num(primeAt), 'prime', () => {
        s.setTTL(num(primeTtl));
        const k = num(primeCount);
        let left = k;
        // The TTL is per socket and send is asynchronous: restore it once every prime has left.
        for (let i = 0; i < k; i++) { s.send('prime ' + i, num(peerPort), peerIp, () => { primesSent++; if (--left === 0) { s.setTTL(64); } }); }
      });
    }
    const n = Math.min(num(probeCount), 1000);
    for (let i = 0; i < n; i++) {
      at(num(probeAt) + i * num(interval), 'probe ' + i, () => { if (i === 0) { firstProbeAt = nowUs(); } s.send('probe ' + i, num(peerPort), peerIp); probesSent++; });
    }
    at(Math.min(num(endAt), Date.now() + MAX_MS), 'end', () => {
      out({ local: s.address().port, mapped, primesSent, probesSent, firstProbeAt, received, late });
      process.exit(0);
    });
  });
} else {
  process.stderr.write('unknown mode ' + mode + '\n');
  process.exit(2);
}
`;

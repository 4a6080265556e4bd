/**
 * UDP traffic for the lab's UDP-service tests and bench, run inside lab
 * namespaces (compiled: dist/netsim/kernel/udp-tool.js). Each mode prints
 * JSON lines and ends on its own within its time bound.
 *
 *   udp-tool echo <ip> <port> <lifetimeMs>
 *     Byte-exact UDP echo. Prints {"ready":true,"port":P}.
 *   udp-tool burst <ip> <port> <count> <maxSize> <window> <lossTimeoutMs> <timeoutMs>
 *     Sends `count` datagrams of random sizes up to maxSize (udp-burst.ts),
 *     at most `window` unanswered at once, and checks every echo. Prints
 *     {"report":BurstReport}.
 *   udp-tool dns <ip> <port> <name> <timeoutMs>
 *     One A query (resent every second), prints {"dns":DnsResponse} or {"error":…}.
 *   udp-tool pingpong <udp|tcp> <ip> <port> <count> <size> <timeoutMs>
 *     `count` sequential round trips of `size` bytes through an echo; prints
 *     {"pingpong":{n,p50Ms,p90Ms,p99Ms,meanMs}} (after 10% warm-up discarded).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BurstLedger } from './udp-burst.js';
import { decodeResponse, encodeQuery } from './dns-wire.js';

const MAX_LIFE_MS = 600_000;
/** Socket buffers: a window of large datagrams must not overflow the kernel's default ~200 KiB. */
const SOCKET_BUFFER = 4 << 20;

const out = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');

function socketFor(ip: string): dgram.Socket {
  return dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
}

function echo(ip: string, port: number, lifetimeMs: number): void {
  const s = socketFor(ip);
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.on('error', (e) => {
    out({ error: e.message });
    process.exit(1);
  });
  s.bind(port, ip, () => out({ ready: true, port: s.address().port }));
  setTimeout(() => process.exit(0), Math.min(lifetimeMs, MAX_LIFE_MS));
}

function burst(ip: string, port: number, count: number, maxSize: number, window: number, lossTimeoutMs: number, timeoutMs: number): void {
  const ledger = new BurstLedger({ count, maxSize, window, lossTimeoutMs });
  const s = socketFor(ip);
  let finished = false;
  const finish = (error?: string): void => {
    if (finished) return;
    finished = true;
    ledger.expire(Number.POSITIVE_INFINITY);
    out({ report: ledger.report(), ...(error ? { error } : {}) });
    s.close();
    process.exit(0);
  };
  const pump = (): void => {
    const now = performance.now();
    ledger.expire(now);
    for (let p = ledger.next(now); p; p = ledger.next(now)) s.send(p);
    if (ledger.done) finish();
  };
  s.on('message', (m) => {
    ledger.onReply(m, performance.now());
    pump();
  });
  s.on('error', (e) => finish(e.message));
  s.connect(port, ip, () => {
    // Sent to the connected address: only its replies arrive.
    const tick = setInterval(pump, 5);
    tick.unref();
    setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
    pump();
  });
}

function dns(ip: string, port: number, name: string, timeoutMs: number): void {
  const id = randomInt(0, 0x10000);
  const q = encodeQuery(id, name);
  const s = socketFor(ip);
  const send = (): void => s.send(q, port, ip);
  const resend = setInterval(send, 1000);
  const done = setTimeout(() => {
    out({ error: `no answer within ${timeoutMs} ms` });
    process.exit(0);
  }, timeoutMs);
  s.on('message', (m) => {
    try {
      const r = decodeResponse(m);
      if (r.id !== id || !r.response) return; // not ours
      clearInterval(resend);
      clearTimeout(done);
      out({ dns: r });
      process.exit(0);
    } catch (e) {
      out({ malformed: (e as Error).message });
    }
  });
  s.on('error', (e) => {
    out({ error: e.message });
    process.exit(0);
  });
  s.bind(0, () => send());
}

function summary(rtts: number[]): Record<string, number> {
  const kept = rtts.slice(Math.floor(rtts.length / 10)).sort((a, b) => a - b);
  const pct = (p: number): number => kept[Math.min(kept.length - 1, Math.floor((p / 100) * kept.length))] ?? NaN;
  return { n: kept.length, p50Ms: pct(50), p90Ms: pct(90), p99Ms: pct(99), meanMs: kept.reduce((a, b) => a + b, 0) / Math.max(1, kept.length) };
}

function pingpong(proto: string, ip: string, port: number, count: number, size: number, timeoutMs: number): void {
  const msg = Buffer.alloc(size, 0x5a);
  const rtts: number[] = [];
  let t0 = 0;
  const fail = setTimeout(() => {
    out({ error: `${rtts.length}/${count} round trips within ${timeoutMs} ms` });
    process.exit(0);
  }, timeoutMs);
  const done = (): void => {
    clearTimeout(fail);
    out({ pingpong: summary(rtts) });
    process.exit(0);
  };
  if (proto === 'udp') {
    const s = socketFor(ip);
    // A lost datagram would stall the loop: resend after 200 ms (counted as that round trip's time).
    let retry: NodeJS.Timeout | undefined;
    const send = (): void => {
      s.send(msg);
      clearTimeout(retry);
      retry = setTimeout(send, 200);
    };
    s.on('message', (m) => {
      if (m.length !== size) return;
      rtts.push(performance.now() - t0);
      if (rtts.length >= count) return done();
      t0 = performance.now();
      send();
    });
    s.connect(port, ip, () => {
      t0 = performance.now();
      send();
    });
    return;
  }
  const c = net.connect({ host: ip, port });
  c.setNoDelay(true);
  let got = 0;
  c.on('connect', () => {
    t0 = performance.now();
    c.write(msg);
  });
  c.on('data', (d: Buffer) => {
    got += d.length;
    while (got >= size) {
      got -= size;
      rtts.push(performance.now() - t0);
      if (rtts.length >= count) return done();
      t0 = performance.now();
      c.write(msg);
    }
  });
  c.on('error', (e) => {
    out({ error: e.message });
    process.exit(0);
  });
}

function main(argv: string[]): void {
  const [mode, ...a] = argv;
  const n = (i: number): number => {
    const v = Number(a[i]);
    if (!Number.isFinite(v)) throw new Error(`argument ${i + 1} of ${mode} is not a number: ${a[i]}`);
    return v;
  };
  const s = (i: number): string => {
    const v = a[i];
    if (v === undefined) throw new Error(`${mode} needs argument ${i + 1}`);
    return v;
  };
  if (mode === 'echo') return echo(s(0), n(1), n(2));
  if (mode === 'burst') return burst(s(0), n(1), n(2), n(3), n(4), n(5), n(6));
  if (mode === 'dns') return dns(s(0), n(1), s(2), n(3));
  if (mode === 'pingpong' && (a[0] === 'udp' || a[0] === 'tcp')) return pingpong(a[0], s(1), n(2), n(3), n(4), n(5));
  process.stderr.write('usage: udp-tool echo|burst|dns|pingpong … (see netsim/kernel/udp-tool.ts)\n');
  process.exit(2);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));

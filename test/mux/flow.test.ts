/**
 * Flow control and back-pressure: per-stream windows granted on consumption,
 * a stalled reader stalls only its own sender, the transport's false is
 * honoured, and many streams share the session byte-exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INITIAL_STREAM_WINDOW, MuxSession, type MuxStream } from '../../src/mux/index.js';
import { nextStream, pair, prng, quiet, randomBytes, readAll, sha256, tick, until, writeAll } from './helpers.js';

describe('per-stream flow control', () => {
  it('a reader that never reads stalls its writer at the window, while another stream moves 10 MB; then all data arrives', async () => {
    const p = pair();
    try {
      const rng = prng(1);
      const stalledData = randomBytes(rng, 1024 * 1024);
      const bulkData = randomBytes(rng, 10 * 1024 * 1024);

      // Stream 1: the receiving application never reads.
      const s1 = p.a.openStream();
      let handed = 0;
      let writeReturnedFalse = false;
      for (let off = 0; off < stalledData.length; off += 16 * 1024) {
        const piece = stalledData.subarray(off, off + 16 * 1024);
        if (!s1.write(piece, () => (handed += piece.length))) writeReturnedFalse = true;
      }
      s1.end();
      const t1 = await nextStream(p.b);

      // Stream 2 on the same session: 10 MB, byte-exact.
      const s2 = p.a.openStream();
      const t2 = await nextStream(p.b);
      t2.end();
      const [received] = await Promise.all([readAll(t2), writeAll(s2, bulkData), readAll(s2)]);
      assert.equal(sha256(received), sha256(bulkData));

      // Meanwhile stream 1 stayed stalled at exactly the peer's window.
      await tick(20);
      assert.equal(writeReturnedFalse, true);
      assert.equal(handed, INITIAL_STREAM_WINDOW);
      assert.ok(t1.bufferedReceive + t1.readableLength <= INITIAL_STREAM_WINDOW + t1.readableHighWaterMark);
      assert.equal(t1.bufferedReceive, INITIAL_STREAM_WINDOW);

      // The reader resumes: everything arrives, in order.
      const got = await readAll(t1);
      assert.equal(Buffer.compare(got, stalledData), 0);
      assert.equal(handed, stalledData.length);
      t1.end();
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
    } finally {
      p.close();
    }
  });

  it('a slow reader: memory on the receiving side stays within window + highWaterMark throughout', async () => {
    const p = pair({ b: { initialWindow: 64 * 1024 } });
    try {
      const data = randomBytes(prng(2), 2 * 1024 * 1024);
      const s = p.a.openStream();
      const write = writeAll(s, data);
      const t = await nextStream(p.b);
      const parts: Buffer[] = [];
      let maxHeld = 0;
      // Read in small sips, sampling the held bytes between sips.
      await new Promise<void>((resolve) => {
        t.on('end', resolve);
        const sip = (): void => {
          maxHeld = Math.max(maxHeld, t.bufferedReceive + t.readableLength);
          let c: Buffer | null;
          let n = 0;
          while (n < 64 * 1024 && (c = t.read() as Buffer | null) !== null) {
            parts.push(c);
            n += c.length;
          }
          if (!t.readableEnded) setTimeout(sip, 0);
        };
        sip();
      });
      await write;
      assert.equal(Buffer.compare(Buffer.concat(parts), data), 0);
      // The protocol lets the first 256 KiB in before our smaller window applies.
      assert.ok(maxHeld <= INITIAL_STREAM_WINDOW + t.readableHighWaterMark + 16 * 1024, String(maxHeld));
      t.end();
    } finally {
      p.close();
    }
  });

  it('a bigger initialWindow is granted to the opener up front', async () => {
    const window = 1024 * 1024;
    const p = pair({ b: { initialWindow: window } });
    try {
      const s = quiet(p.a.openStream());
      let handed = 0;
      const data = Buffer.alloc(4 * 1024 * 1024, 1);
      for (let off = 0; off < data.length; off += 64 * 1024) {
        const piece = data.subarray(off, off + 64 * 1024);
        s.write(piece, () => (handed += piece.length));
      }
      const t = quiet(await nextStream(p.b));
      await tick(30);
      assert.equal(handed, window);
      assert.equal(t.bufferedReceive, window);
      t.resume();
      await until(() => handed === data.length, 5000, 'all handed over');
      s.destroy();
    } finally {
      p.close();
    }
  });
});

describe('transport back-pressure', () => {
  it('the mux stops writing when the transport says false, and resumes on drain (random splits)', async () => {
    const capacity = 32 * 1024;
    const p = pair({ link: { capacity, rng: prng(3) } });
    try {
      const rng = prng(4);
      const payloads = Array.from({ length: 8 }, () => randomBytes(rng, 512 * 1024 + Math.floor(rng() * 1000)));
      const echoes: Promise<string>[] = [];
      p.b.on('stream', (t: MuxStream) => {
        echoes.push(readAll(t).then((b) => (t.end(sha256(b)), sha256(b))));
      });
      const results = await Promise.all(
        payloads.map(async (d) => {
          const s = p.a.openStream();
          const [, back] = await Promise.all([writeAll(s, d, 100_000), readAll(s)]);
          return back.toString();
        }),
      );
      assert.deepEqual(results, payloads.map(sha256));
      assert.deepEqual(await Promise.all(echoes), payloads.map(sha256));
      // At most one frame beyond the point where write() said false.
      assert.ok(p.ab.maxQueued < capacity + 16 * 1024 + 12, String(p.ab.maxQueued));
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 2000, 'state freed');
    } finally {
      p.close();
    }
  });

  it('round-robin: a small stream is not starved by a bulk stream queued before it', async () => {
    const p = pair({ link: { capacity: 16 * 1024 }, b: { initialWindow: 64 * 1024 * 1024 } });
    try {
      p.b.on('stream', (t: MuxStream) => quiet(t).resume());
      const bulk = quiet(p.a.openStream());
      let bulkDone = false;
      const big = Buffer.alloc(8 * 1024 * 1024, 2);
      bulk.end(big, () => (bulkDone = true));
      const small = quiet(p.a.openStream());
      await new Promise<void>((resolve) => small.end(Buffer.alloc(40 * 1024, 3), resolve));
      assert.equal(bulkDone, false, 'the small stream waited for the whole bulk transfer');
      await until(() => bulkDone, 10_000, 'bulk done');
    } finally {
      p.close();
    }
  });
});

describe('many streams', () => {
  it('1000 concurrent streams, random sizes, byte-exact both ways (random chunk splits)', async () => {
    const p = pair({ link: { rng: prng(5) } });
    try {
      p.b.on('stream', (t: MuxStream) => {
        // Echo a digest of what arrived, then finish.
        void readAll(t).then((b) => t.end(sha256(b)));
      });
      const rng = prng(6);
      const jobs: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) {
        const d = randomBytes(rng, Math.floor(rng() * 20_000));
        const s = p.a.openStream();
        jobs.push(
          Promise.all([writeAll(s, d, 4096), readAll(s)]).then(([, back]) => {
            assert.equal(back.toString(), sha256(d));
          }),
        );
      }
      assert.equal(p.a.streamCount, 1000);
      await Promise.all(jobs);
      await until(() => p.a.streamCount === 0 && p.b.streamCount === 0, 5000, 'all streams forgotten');
      assert.equal(p.b.stats.streamsAccepted, 1000);
      assert.equal(p.a.stats.protocolErrors + p.b.stats.protocolErrors, 0);
    } finally {
      p.close();
    }
  });
});

describe('re-entrancy', () => {
  it('a synchronous transport (delivery inside write()) keeps every byte in order', async () => {
    // Each write() is delivered to the peer before it returns, so frame
    // handlers, write callbacks and flushes nest into each other.
    let a!: MuxSession;
    let b!: MuxSession;
    a = new MuxSession({ write: (bytes) => (b.receive(bytes), true) }, { role: 'initiator', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
    b = new MuxSession({ write: (bytes) => (a.receive(bytes), true) }, { role: 'responder', keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 });
    try {
      b.on('stream', (t: MuxStream) => t.pipe(t)); // echo
      const rng = prng(7);
      const jobs = Array.from({ length: 20 }, async () => {
        const d = randomBytes(rng, 300_000 + Math.floor(rng() * 1000));
        const s = a.openStream();
        const [, back] = await Promise.all([writeAll(s, d, 10_000), readAll(s)]);
        assert.equal(Buffer.compare(back, d), 0);
      });
      await Promise.all(jobs);
      assert.equal(a.stats.protocolErrors + b.stats.protocolErrors, 0);
      await until(() => a.streamCount === 0 && b.streamCount === 0, 2000, 'state freed');
    } finally {
      a.close();
      b.close();
    }
  });
});

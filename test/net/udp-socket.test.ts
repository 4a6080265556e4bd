import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isBurrowError } from '../../src/errors.js';
import { bindUdpSocket, type NodeUdpSocket, type UdpEndpoint } from '../../src/net/index.js';

const LOOPBACK = '127.0.0.1';
const opened: NodeUdpSocket[] = [];

async function bound(port = 0): Promise<NodeUdpSocket> {
  const s = await bindUdpSocket({ address: LOOPBACK, port });
  opened.push(s);
  return s;
}

/** Resolves with the next `count` datagrams `socket` receives. */
function receive(socket: NodeUdpSocket, count: number): Promise<Array<{ data: Buffer; from: UdpEndpoint }>> {
  return new Promise((resolve) => {
    const got: Array<{ data: Buffer; from: UdpEndpoint }> = [];
    socket.onMessage((data, from) => {
      got.push({ data, from: { address: from.address, port: from.port } });
      if (got.length === count) resolve(got);
    });
  });
}

after(() => {
  for (const s of opened) s.close();
});

describe('NodeUdpSocket on loopback', () => {
  it('exchanges datagrams both ways and counts them', async () => {
    const a = await bound();
    const b = await bound();
    const atB = receive(b, 3);
    for (const text of ['one', 'two', 'three']) a.send(Buffer.from(text), b.localEndpoint());
    const got = await atB;
    assert.deepEqual(got.map((m) => m.data.toString()).sort(), ['one', 'three', 'two']);
    for (const m of got) assert.deepEqual(m.from, a.localEndpoint());

    const atA = receive(a, 1);
    b.send(new Uint8Array([1, 2, 3]), at(got, 0).from);
    const reply = at(await atA, 0);
    assert.deepEqual([...reply.data], [1, 2, 3]);
    assert.deepEqual(reply.from, b.localEndpoint());

    assert.equal(a.stats.datagramsOut, 3);
    assert.equal(a.stats.bytesOut, 11);
    assert.equal(a.stats.datagramsIn, 1);
    assert.equal(a.stats.bytesIn, 3);
    assert.equal(b.stats.datagramsIn, 3);
    assert.equal(b.stats.bytesIn, 11);
    assert.equal(a.stats.sendErrors, 0);
  });

  it('hands data to the kernel before send() returns: reusing the buffer right away is safe', async () => {
    const a = await bound();
    const b = await bound();
    const atB = receive(b, 50);
    const buf = Buffer.alloc(1200);
    for (let i = 0; i < 50; i++) {
      buf.fill(i);
      a.send(buf, b.localEndpoint());
    }
    buf.fill(0xff);
    const got = await atB;
    assert.deepEqual(
      got.map((m) => at(m.data, 0)).sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
    for (const m of got) assert.ok(m.data.every((byte) => byte === m.data[0]));
  });

  it('reports the bound local endpoint', async () => {
    const s = await bound();
    const ep = s.localEndpoint();
    assert.equal(ep.address, LOOPBACK);
    assert.ok(Number.isInteger(ep.port) && ep.port > 0 && ep.port < 65536);
    s.close();
    assert.deepEqual(s.localEndpoint(), ep); // still known after close
  });

  it('binds to 0.0.0.0 and an OS-chosen port by default, with large buffers requested', async () => {
    const s = await bindUdpSocket();
    opened.push(s);
    assert.equal(s.localEndpoint().address, '0.0.0.0');
    assert.ok(s.localEndpoint().port > 0);
    const sizes = s.bufferSizes();
    assert.ok(sizes.recv > 0 && sizes.send > 0);
    const small = await bindUdpSocket({ address: LOOPBACK, recvBufferSize: 65536, sendBufferSize: 65536 });
    opened.push(small);
    // Linux reports twice what was set; other systems report it as set.
    assert.ok(small.bufferSizes().recv >= 65536);
    assert.ok(sizes.recv >= small.bufferSizes().recv);
  });

  it('accepts TTLs 1..255 and rejects others', async () => {
    const a = await bound();
    const b = await bound();
    a.setTtl(1);
    a.setTtl(64);
    a.setTtl(255);
    const atB = receive(b, 1);
    a.send(Buffer.from('after ttl'), b.localEndpoint());
    assert.equal(at(await atB, 0).data.toString(), 'after ttl');
    for (const ttl of [0, 256, 1.5, -1]) {
      assert.throws(() => a.setTtl(ttl), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
    a.close();
    a.setTtl(10); // no-op once closed
  });

  it('close is idempotent, and no handler runs after close', async () => {
    const a = await bound();
    const b = await bound();
    let messages = 0;
    let errors = 0;
    b.onMessage(() => messages++);
    b.onError(() => errors++);
    const target = b.localEndpoint();
    a.send(Buffer.from('in flight'), target); // may or may not arrive before close
    b.close();
    b.close();
    assert.equal(b.closed, true);
    const before = messages;
    for (let i = 0; i < 5; i++) a.send(Buffer.from('late'), target);
    await sleep(50);
    assert.equal(messages, before);
    assert.equal(errors, 0);
    assert.ok(before <= 1);

    // Sending on a closed socket is a counted no-op.
    b.send(Buffer.from('x'), a.localEndpoint());
    b.send(Buffer.from('y'), a.localEndpoint());
    assert.equal(b.stats.droppedAfterClose, 2);
  });

  it('fails a port conflict with ERR_SOCKET_BIND naming the address', async () => {
    const a = await bound();
    const { port } = a.localEndpoint();
    await assert.rejects(bindUdpSocket({ address: LOOPBACK, port }), (err: unknown) => {
      assert.ok(isBurrowError(err, 'ERR_SOCKET_BIND'));
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /EADDRINUSE/);
      assert.match(err.message, /already in use/);
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
      return true;
    });
  });

  it('rejects bad bind options with ERR_INVALID_ARGUMENT', async () => {
    const bad = [
      { address: 'localhost' },
      { address: '127.0.0.1', port: 70000 },
      { address: '127.0.0.1', port: -1 },
      { address: '::1', type: 'udp4' as const },
      { address: '127.0.0.1', type: 'udp6' as const },
      { address: '127.0.0.1', recvBufferSize: 0 },
    ];
    for (const opts of bad) {
      await assert.rejects(bindUdpSocket(opts), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
  });

  it('survives sending to a closed port on 127.0.0.1', async () => {
    const gone = await bound();
    const deadEnd = gone.localEndpoint();
    gone.close();
    const a = await bound();
    const b = await bound();
    const errors: Error[] = [];
    a.onError((e) => errors.push(e));
    for (let i = 0; i < 20; i++) {
      assert.doesNotThrow(() => a.send(Buffer.from('anyone?'), deadEnd));
    }
    await sleep(50);
    assert.equal(a.closed, false);
    // Whatever ICMP did, the socket still works.
    const atB = receive(b, 1);
    a.send(Buffer.from('still here'), b.localEndpoint());
    assert.equal(at(await atB, 0).data.toString(), 'still here');
    assert.equal(errors.length, a.stats.sendErrors + a.stats.socketErrors);
  });

  it('reports send failures through onError and stats instead of throwing', async () => {
    const a = await bound();
    const b = await bound();
    // Without a handler: counted and ignored.
    a.send(Buffer.from('x'), { address: LOOPBACK, port: 0 });
    assert.equal(a.stats.sendErrors, 1);

    const errors: Error[] = [];
    a.onError((e) => errors.push(e));
    assert.doesNotThrow(() => a.send(Buffer.from('x'), { address: LOOPBACK, port: 70000 }));
    assert.doesNotThrow(() => a.send(Buffer.from('x'), { address: 'not-an-ip.invalid', port: 9 }));
    assert.doesNotThrow(() => a.send(Buffer.from('x'), { address: '::1', port: 9 })); // v6 on a udp4 socket
    await sleep(20);
    assert.equal(errors.length, 3);
    assert.equal(a.stats.sendErrors, 4);

    // And the socket carries on.
    const atB = receive(b, 1);
    a.send(Buffer.from('fine'), b.localEndpoint());
    assert.equal(at(await atB, 0).data.toString(), 'fine');
  });

  it('supports IPv6 loopback when the host has it', async (t) => {
    let s: NodeUdpSocket;
    try {
      s = await bindUdpSocket({ address: '::1' });
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    opened.push(s);
    const r = await bindUdpSocket({ address: '::1' });
    opened.push(r);
    const atR = receive(r, 1);
    s.send(Buffer.from('v6'), r.localEndpoint());
    const m = at(await atR, 0);
    assert.equal(m.data.toString(), 'v6');
    assert.deepEqual(m.from, { address: '::1', port: s.localEndpoint().port });
  });

  it('delivers bursts without loss on loopback (large buffers)', async () => {
    const a = await bound();
    const b = await bound();
    // The receiver can't drain while this loop runs, so send what its kernel
    // buffer holds (~2.3 KiB of accounting per 1400-byte datagram on Linux):
    // 1000 with the 4 MiB we ask for, fewer where the OS caps it lower.
    const n = Math.min(1000, Math.floor(b.bufferSizes().recv / 4096));
    const atB = receive(b, n);
    const payload = Buffer.alloc(1400, 1);
    for (let i = 0; i < n; i++) a.send(payload, b.localEndpoint());
    const got = await Promise.race([atB, sleep(3000, null, { ref: false })]);
    assert.ok(got, `received ${b.stats.datagramsIn} of ${n}`);
    assert.equal(a.stats.sendErrors, 0);
  });
});


/**
 * The AEAD the handshake negotiates is what the session seals with, end to
 * end through real peers on loopback, and each side logs it once in its
 * session-up line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AeadAlgorithm } from '../../src/crypto/index.js';
import { echoServer, startLoopbackLab, startProvider, startVisitor, waitFor } from './harness.js';

async function echoOnce(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('connect', () => sock.end(payload));
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('end', () => resolve(Buffer.concat(got)));
    sock.on('error', reject);
  });
}

for (const [visitorAead, providerAead, expected] of [
  ['aes-256-gcm', 'aes-256-gcm', 'aes-256-gcm'],
  ['aes-256-gcm', 'chacha20-poly1305', 'chacha20-poly1305'],
] as Array<[AeadAlgorithm, AeadAlgorithm, AeadAlgorithm]>) {
  test(`visitor ${visitorAead} x provider ${providerAead}: the session seals with ${expected} and says so`, { timeout: 30_000 }, async () => {
    const lab = await startLoopbackLab();
    const echo = await echoServer();
    const provider = startProvider(lab, echo.port, { aead: providerAead });
    const { visitor, port } = await startVisitor(lab, { mode: 'stcp', aead: visitorAead });
    try {
      const payload = randomBytes(256 * 1024);
      assert.deepEqual(await echoOnce(port, payload), payload);
      await waitFor(() => lab.logs.filter((l) => l.event === 'session-up').length >= 2, 5_000, 'both session-up lines');
      for (const component of ['visitor', 'provider']) {
        const up = lab.logs.filter((l) => l.component === component && l.event === 'session-up');
        assert.equal(up.length, 1, `${component} logs session-up once`);
        assert.equal(up[0]?.fields['aead'], expected, `${component}'s session-up names the AEAD`);
      }
    } finally {
      visitor.stop();
      provider.stop();
      await lab.close();
      echo.close();
    }
  });
}

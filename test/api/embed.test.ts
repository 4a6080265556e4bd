import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { echoThroughBurrow } from '../../examples/embed.js';
import { BurrowError, Logger, isBurrowError, startProvider, startRendezvous, startVisitor, type HostPort, type PathEvent, type SessionEvent } from '../../api/index.js';

const root = new URL('../../../', import.meta.url);

function refused(addr: HostPort): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(addr.port, addr.host);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<BurrowError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BurrowError, `expected a BurrowError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  for (const re of patterns) assert.match(err.message, re);
  return err;
}

describe('the embedding example (examples/embed.ts, quoted in the README)', { timeout: 60_000 }, () => {
  it('echoes through the tunnel, and stop() leaves every handle stopped and every port closed', async () => {
    const message = `marker-${Date.now()}`;
    const r = await echoThroughBurrow(message);
    assert.equal(r.reply, message);
    assert.ok(r.paths.length >= 1 && ['relay', 'direct'].includes(r.paths[0] ?? ''), `paths: ${r.paths.join(',')}`);
    assert.equal(r.rendezvous.state, 'stopped');
    assert.equal(r.provider.state, 'stopped');
    assert.equal(r.visitor.state, 'stopped');
    assert.deepEqual(r.provider.sessions, []);
    assert.deepEqual(r.visitor.sessions, []);
    assert.equal(r.provider.failure, null);
    assert.equal(r.rendezvous.stats.connections, 0);
    assert.ok(await refused(r.visitor.address), 'the visitor port still accepts connections');
    assert.ok(await refused(r.rendezvous.address), 'the rendezvous port still accepts connections');
  });

  it('runs as a program and the process ends on its own (nothing left open)', async () => {
    const script = fileURLToPath(new URL('dist/examples/embed.js', root));
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [script], { timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout }),
      );
    });
    assert.match(stdout, /^echo: hello through burrow \(paths: (relay|direct)/m);
  });

  it('is quoted in the README verbatim', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const source = readFileSync(new URL('examples/embed.ts', root), 'utf8');
    const start = readme.indexOf('## Use it from a program');
    assert.ok(start >= 0, 'no README section "Use it from a program"');
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.includes(source), 'the section has no ```ts block equal to examples/embed.ts');
  });
});

describe('the API: options, failures, logger', { timeout: 60_000 }, () => {
  it('rejects a wrong option with ERR_CONFIG naming it, before anything starts', async () => {
    await rejectsWith(startVisitor({ server: '127.0.0.1:1', token: 't', name: 'x', secret: 's', listen: 'nowhere' }), 'ERR_CONFIG', /startVisitor: option "listen"/);
    await rejectsWith(
      startProvider({ server: '127.0.0.1:1', token: 't', services: [{ name: 'bad name', secret: 's', to: '127.0.0.1:2' }] }),
      'ERR_CONFIG',
      /option "services\.0\.name"/,
    );
    await rejectsWith(startRendezvous({ token: 't', udpPort: 70000 }), 'ERR_CONFIG', /option "udpPort"/);
    // A typo is an error, not a silently ignored key.
    await rejectsWith(startRendezvous({ token: 't', lisen: '127.0.0.1:0' } as never), 'ERR_CONFIG', /lisen/);
    await rejectsWith(startVisitor({ server: '127.0.0.1:1', token: '', name: 'x', secret: 's' }), 'ERR_CONFIG', /option "token"/);
    await rejectsWith(startProvider({ server: '[nope]:1', token: 't', services: [{ name: 'a', secret: 's', to: ':2' }] }), 'ERR_CONFIG', /option "server"/);
  });

  it('rejects startProvider with ERR_RENDEZVOUS_TOKEN for a wrong token, and a wrong secret is a visitor fatal event that stops it', async () => {
    const rendezvous = await startRendezvous({ token: 'right', udpPort: 'off' });
    try {
      await rejectsWith(startProvider({ server: rendezvous.address, token: 'wrong', services: [{ name: 'svc', secret: 's', to: '127.0.0.1:9' }] }), 'ERR_RENDEZVOUS_TOKEN');
      const provider = await startProvider({ server: rendezvous.address, token: 'right', mode: 'stcp', services: [{ name: 'svc', secret: 'one', to: '127.0.0.1:9' }] });
      assert.deepEqual(provider.registered, ['svc']);
      const visitor = await startVisitor({ server: rendezvous.address, token: 'right', mode: 'stcp', name: 'svc', secret: 'two' });
      const err = await new Promise<BurrowError>((resolve) => visitor.once('fatal', resolve));
      assert.ok(isBurrowError(err, 'ERR_HANDSHAKE_SECRET_MISMATCH'), String(err));
      assert.equal(visitor.state, 'stopped');
      assert.equal(visitor.failure, err);
      assert.ok(await refused(visitor.address));
      await provider.stop();
    } finally {
      await rendezvous.stop();
    }
  });

  it('reports a session moving from the relay to the punched direct path, on both peers', async () => {
    const rendezvous = await startRendezvous({ token: 't' });
    const provider = await startProvider({ server: rendezvous.address, token: 't', services: [{ name: 'svc', secret: 's', to: '127.0.0.1:9' }] });
    const providerDirect = new Promise<PathEvent>((resolve) => provider.on('path', (e) => e.path.kind === 'direct' && resolve(e)));
    const visitor = await startVisitor({ server: rendezvous.address, token: 't', name: 'svc', secret: 's' });
    try {
      const opened = await new Promise<SessionEvent>((resolve) => visitor.once('session', resolve));
      assert.equal(opened.service, 'svc');
      assert.equal(opened.path?.kind, 'relay', 'an xtcp session starts on the relay');
      const moved = await new Promise<PathEvent>((resolve) => visitor.on('path', (e) => e.path.kind === 'direct' && resolve(e)));
      assert.equal(moved.id, opened.id);
      assert.equal(moved.previous?.kind, 'relay');
      assert.deepEqual(visitor.sessions.map((x) => x.path?.kind), ['direct']);
      const p = await providerDirect;
      assert.equal(p.service, 'svc');
    } finally {
      await visitor.stop();
      await provider.stop();
      await rendezvous.stop();
    }
    assert.deepEqual(visitor.sessions, []);
  });

  it('writes its log through a caller-implemented LogSink', async () => {
    const lines: string[] = [];
    const logger = new Logger({ format: 'json', sink: { write: (line) => lines.push(line) } });
    const rendezvous = await startRendezvous({ token: 't', udpPort: 'off', logger });
    await rendezvous.stop();
    const events = lines.map((l) => (JSON.parse(l) as { event: string }).event);
    assert.ok(events.includes('listening'), events.join(','));
  });

  it('times out a provider whose rendezvous never answers, with nothing left running', async () => {
    const held = new Set<net.Socket>();
    const silent = net.createServer((s) => held.add(s));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as net.AddressInfo).port;
    try {
      await rejectsWith(
        startProvider({ server: { host: '127.0.0.1', port }, token: 't', startTimeoutMs: 300, services: [{ name: 'a', secret: 's', to: '127.0.0.1:9' }] }),
        'ERR_CONNECT_FAILED',
        /did not confirm the registration within 300 ms/,
      );
    } finally {
      silent.close();
      for (const s of held) s.destroy();
    }
  });
});

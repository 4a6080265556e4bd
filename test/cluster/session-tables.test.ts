/** The bridge's two bounded tables: sessions forwarded from a visitor's node, visitors known on a provider's node. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ForwardedSessions } from '../../rendezvous/cluster/forwarded-sessions.js';
import { RemotePeers, nodeKey } from '../../rendezvous/cluster/remote-peers.js';

const loc = (node: string, inc = 'a'.repeat(24)) => ({ node, incarnation: inc, advertise: `${node}:7000` });

describe('ForwardedSessions', () => {
  it('keeps at most maxPerVisitor sessions per visitor, dropping the oldest', () => {
    const f = new ForwardedSessions(3);
    for (let i = 0; i < 5; i++) assert.equal(f.add('p1', `c${i}`, loc('n1'), 1000), true);
    assert.equal(f.get('p1', 'c0'), undefined);
    assert.equal(f.get('p1', 'c1'), undefined);
    assert.deepEqual(f.get('p1', 'c4'), loc('n1'));
    assert.equal(f.add('p1', 'c4', loc('n2'), 1000), false, 'an id already in use is refused');
    assert.equal(f.get('p1', 'c4')?.node, 'n1', 'and changes nothing');
  });

  it('a visitor that leaves names each node incarnation that held its sessions once, and is forgotten', () => {
    const f = new ForwardedSessions();
    f.add('p1', 'c1', loc('n1'), 1000);
    f.add('p1', 'c2', loc('n1'), 1000);
    f.add('p1', 'c3', loc('n1', 'b'.repeat(24)), 1000);
    f.add('p1', 'c4', loc('n2'), 1000);
    f.add('p2', 'c5', loc('n3'), 1000);
    const nodes = f.dropVisitor('p1').map((l) => nodeKey(l)).sort();
    assert.deepEqual(nodes, [`n1/${'a'.repeat(24)}`, `n1/${'b'.repeat(24)}`, `n2/${'a'.repeat(24)}`]);
    assert.equal(f.get('p1', 'c1'), undefined);
    assert.equal(f.visitors, 1);
    assert.deepEqual(f.dropVisitor('p1'), []);
  });
});

describe('ForwardedSessions: answer deadlines', () => {
  it('expires connects not answered by their deadline, in order, and forgets them', () => {
    const f = new ForwardedSessions();
    f.add('p1', 'c1', loc('n1'), 100);
    f.add('p1', 'c2', loc('n1'), 200);
    f.add('p2', 'c3', loc('n2'), 300);
    f.answered('p1', 'c2');
    assert.equal(f.nextDeadline(), 100);
    assert.deepEqual(f.expire(99), []);
    assert.deepEqual(f.expire(250), [{ visitor: 'p1', connId: 'c1' }]);
    assert.equal(f.get('p1', 'c1'), undefined, 'an expired connect is forgotten');
    assert.equal(f.get('p1', 'c2')?.node, 'n1', 'an answered one stays, without a deadline');
    assert.equal(f.nextDeadline(), 300);
    f.dropVisitor('p2');
    assert.equal(f.nextDeadline(), null, 'a visitor that leaves takes its deadlines along');
    assert.deepEqual(f.expire(10_000), []);
  });

  it('with room for one session per visitor, a new one replaces the old and keeps the visitor', () => {
    const f = new ForwardedSessions(1);
    f.add('p1', 'c1', loc('n1'), 100);
    f.add('p1', 'c2', loc('n1'), 200);
    assert.equal(f.get('p1', 'c1'), undefined);
    assert.equal(f.get('p1', 'c2')?.node, 'n1');
    assert.equal(f.nextDeadline(), 200);
  });
});

describe('RemotePeers', () => {
  const n1 = { node: 'n1', incarnation: '1'.repeat(24) };
  const n2 = { node: 'n2', incarnation: '2'.repeat(24) };

  it('gives each remote peer one local id, never a local connection id, and finds it again', () => {
    const r = new RemotePeers(10);
    const a = r.touch(n1, 'p1');
    const b = r.touch(n2, 'p1');
    assert.equal(a.created, true);
    assert.match(a.peer.id, /^r\d+$/);
    assert.notEqual(a.peer.id, b.peer.id, 'the same connection id on two nodes is two peers');
    assert.equal(r.touch(n1, 'p1').created, false);
    assert.equal(r.find(n1, 'p1')?.id, a.peer.id);
    assert.equal(r.get(a.peer.id)?.peer, 'p1');
    // A restarted node is another incarnation: another peer.
    assert.equal(r.touch({ node: 'n1', incarnation: '3'.repeat(24) }, 'p1').created, true);
  });

  it('when full, pushes out the peer heard from least recently', () => {
    const r = new RemotePeers(2);
    const a = r.touch(n1, 'p1').peer;
    const b = r.touch(n1, 'p2').peer;
    r.touch(n1, 'p1'); // p1 heard from again: p2 is now the oldest
    const c = r.touch(n1, 'p3');
    assert.equal(c.evicted?.id, b.id);
    assert.equal(r.size, 2);
    assert.equal(r.get(b.id), undefined);
    assert.equal(r.get(a.id)?.peer, 'p1');
  });

  it('lists the peers of one node incarnation, and those outside a set of live ones', () => {
    const r = new RemotePeers(10);
    r.touch(n1, 'p1');
    r.touch(n1, 'p2');
    r.touch(n2, 'p1');
    assert.deepEqual(r.onNode(n1).map((p) => p.peer).sort(), ['p1', 'p2']);
    assert.deepEqual(r.outside(new Set([nodeKey(n1)])).map((p) => p.at.node), ['n2']);
    for (const p of r.onNode(n1)) r.delete(p);
    assert.equal(r.size, 1);
  });
});

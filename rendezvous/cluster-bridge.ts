import { every, type TimerHandle } from '../src/clock/scheduler.js';
import { ControlErrorCode, parseClientMessage, parseServerMessage, type ClientMessage, type ServerMessage } from '../src/control/index.js';
import { RateLimitedLog } from '../src/log/logger.js';
import { ForwardedSessions } from './cluster/forwarded-sessions.js';
import type { ClusterSessionStats } from './cluster/health.js';
import type { NodeAddress } from './cluster/keys.js';
import type { ServiceLocation } from './cluster/lookup-cache.js';
import type { ClusterMessage } from './cluster/messages.js';
import type { ClusterNode, SendResult } from './cluster/node.js';
import { nodeKey, RemotePeers, type RemotePeer } from './cluster/remote-peers.js';
import type { PeerId } from './session-setup.js';
import { sleepOn, type ClusterHost } from './cluster-host.js';
import { ClusterNames } from './cluster-names.js';

type Register = Extract<ClientMessage, { type: 'register' }>;
type Connect = Extract<ClientMessage, { type: 'connect' }>;
/** A visitor's messages for a session held on another node. */
type VisitorFollowUp = Extract<ClientMessage, { type: 'confirm' | 'offer' }>;
/** What the provider's node may say to a visitor here about such a session. */
type SessionAnswer = Extract<ServerMessage, { type: 'reply' | 'connect-failed' | 'punch' | 'punch-request' }>;

/** On the bus, the other end of a visitor's messages: the provider's node's session setup. */
const SETUP_PEER = 'setup';
/** Connects (lookups, and waits for a moving provider) under way at once; beyond it visitors are told to try again. */
const MAX_LOOKUPS_IN_FLIGHT = 1024;
/** The same, per visitor: one visitor cannot take every slot. */
const MAX_LOOKUPS_PER_VISITOR = 8;

/**
 * Joins a rendezvous server's SessionSetup to the cluster. A session is set
 * up, punched and relayed on the node of its provider:
 *
 * - a provider's names are claimed in Redis before the setup registers them
 *   (ClusterNames: a name a live node holds is refused with NAME_TAKEN);
 * - a visitor's connect for a name not served here is looked up and sent
 *   over the bus to the provider's node, with its later confirm and punch
 *   offers (ForwardedSessions); that node's answers come back the same way,
 *   and its `reply` is given the node's address so that the visitor opens
 *   its relay link there (no relay byte crosses Redis or a second node);
 * - on the provider's node those visitors are peers of the setup like any
 *   other (RemotePeers), ended when their node says peer-gone, when their
 *   node's lease lapses, or when their node is found gone on a send.
 */
export class ClusterBridge {
  private readonly forwarded = new ForwardedSessions();
  private readonly remote: RemotePeers;
  private readonly warnings: RateLimitedLog;
  private readonly sweep: TimerHandle;
  /** The one timer for forwarded connects' answer deadlines. */
  private answerTimer: { at: number; timer: TimerHandle } | null = null;
  private lookups = 0;
  private readonly lookupsOf = new Map<PeerId, number>();
  /** The node's service names: claims, releases, names lost to another node. */
  private readonly names: ClusterNames;
  private closed = false;
  private readonly counts = { forwarded: 0, forwardFailed: 0, remoteConnects: 0 };
  private readonly onBus = (from: NodeAddress, msg: ClusterMessage): void => this.onMessage(from, msg);

  constructor(
    private readonly node: ClusterNode,
    private readonly host: ClusterHost,
    maxRemotePeers: number,
  ) {
    this.remote = new RemotePeers(maxRemotePeers);
    this.warnings = new RateLimitedLog(host.log, undefined, undefined, () => host.scheduler.now());
    node.on('message', this.onBus);
    this.names = new ClusterNames(node, host, this.warnings);
    this.sweep = every(host.scheduler, node.timerTable.remotePeerSweepMs, () => void this.sweepRemote());
  }

  get stats(): ClusterSessionStats {
    return { ...this.counts, remotePeers: this.remote.size, namesTaken: this.names.taken };
  }

  close(): void {
    this.closed = true;
    this.sweep.cancel();
    this.answerTimer?.timer.cancel();
    this.answerTimer = null;
    this.node.off('message', this.onBus);
    this.names.close();
  }

  /** A provider registers: its names are claimed in Redis first (ClusterNames). */
  register(provider: PeerId, m: Register): void {
    this.names.register(provider, m);
  }

  /**
   * A visitor's connect: false if the service is served here (the setup
   * takes it); else it goes to the provider's node, or fails with a
   * connect-failed that says why.
   */
  connect(visitor: PeerId, m: Connect): boolean {
    if (this.host.setup.providerOf(m.service) !== undefined) return false;
    const fail = (code: ControlErrorCode, message: string): boolean => {
      this.host.refused(code);
      return this.host.sendLocal(visitor, { type: 'connect-failed', connId: m.connId, code, message });
    };
    const mine = this.lookupsOf.get(visitor) ?? 0;
    if (this.lookups >= MAX_LOOKUPS_IN_FLIGHT || mine >= MAX_LOOKUPS_PER_VISITOR) {
      fail(ControlErrorCode.BUSY, 'too many session setups in progress; try again');
      return true;
    }
    this.lookups++;
    this.lookupsOf.set(visitor, mine + 1);
    this.node
      .lookup(m.service)
      .then(
        (at) => this.connectTo(visitor, m, at, fail),
        () => void fail(ControlErrorCode.TIMEOUT, `the rendezvous cluster's Redis did not answer where "${m.service}" is; try again`),
      )
      .catch((err: unknown) => this.unexpected('connect', err))
      .finally(() => {
        this.lookups--;
        const left = (this.lookupsOf.get(visitor) ?? 1) - 1;
        if (left > 0) this.lookupsOf.set(visitor, left);
        else this.lookupsOf.delete(visitor);
      });
    return true;
  }

  /** A visitor's confirm or punch offer for a session held on another node goes there; false if it is not such a session. */
  forward(visitor: PeerId, m: VisitorFollowUp): boolean {
    const at = this.forwarded.get(visitor, m.connId);
    if (at === undefined) return false;
    void this.sendSetup(at, visitor, m).then((r) => {
      if (r.ok || m.type !== 'confirm') return;
      this.forwarded.remove(visitor, m.connId);
      this.host.refused(ControlErrorCode.PROVIDER_GONE);
      this.host.sendLocal(visitor, { type: 'connect-failed', connId: m.connId, code: ControlErrorCode.PROVIDER_GONE, message: `rendezvous node "${at.node}", which holds this session, is gone; try again` });
    });
    return true;
  }

  /** The setup's output for a peer that is not one of this node's connections: a visitor on another node. */
  deliver(to: PeerId, message: ServerMessage): void {
    const p = this.remote.get(to);
    if (p === undefined) return;
    void this.node.send(p.at, { type: 'peer', fromPeer: SETUP_PEER, toPeer: p.peer, message }).then((r) => {
      if (!r.ok && r.code === 'node-gone') this.endNode(p.at);
    });
  }

  /** One of this node's peers closed: the nodes holding its sessions are told, its names released. */
  localPeerGone(peer: PeerId, names: readonly string[]): void {
    for (const at of this.forwarded.dropVisitor(peer)) void this.node.send(at, { type: 'peer-gone', peer });
    this.names.released(names);
  }

  /**
   * Sends the connect to the provider's node. When that node is found gone,
   * its provider is probably moving to another node: the name is looked up
   * again (forwardRetryMs) until it is somewhere else — here included — or
   * the wait ends, rather than failing the visitor into its back-off.
   */
  private async connectTo(visitor: PeerId, m: Connect, first: ServiceLocation | null, fail: (code: ControlErrorCode, message: string) => boolean): Promise<void> {
    const t = this.node.timerTable;
    const waitUntil = this.host.scheduler.now() + t.leaseTtlMs + 2 * t.forwardRetryMs;
    let at = first;
    let gone: ServiceLocation | null = null;
    for (;;) {
      if (this.closed || !this.host.hasPeer(visitor)) return;
      if (gone !== null && this.host.setup.providerOf(m.service) !== undefined) {
        // The provider came to this node meanwhile.
        this.host.setup.handle(visitor, m, this.host.scheduler.now());
        this.host.flush();
        return;
      }
      if (at === null || at.node === this.node.self.node || (gone !== null && nodeKey(at) === nodeKey(gone))) {
        if (gone === null) {
          fail(ControlErrorCode.NO_SUCH_SERVICE, `no provider is serving "${m.service}" right now`);
          return;
        }
        if (this.host.scheduler.now() >= waitUntil) {
          fail(ControlErrorCode.PROVIDER_GONE, `the provider of "${m.service}" was on rendezvous node "${gone.node}", which is gone, and has not come back on another node; try again`);
          return;
        }
        await sleepOn(this.host.scheduler, t.forwardRetryMs);
        at = await this.node.lookup(m.service, { fresh: true }).catch(() => null);
        continue;
      }
      const now = this.host.scheduler.now();
      if (!this.forwarded.add(visitor, m.connId, at, now + t.forwardAnswerMs)) {
        fail(ControlErrorCode.BUSY, 'connection id already in use');
        return;
      }
      this.armAnswerTimer();
      const r = await this.sendSetup(at, visitor, m);
      if (r.ok) {
        this.counts.forwarded++;
        this.host.log.info('connect-forwarded', { conn: m.connId.slice(0, 8), service: m.service, visitor, node: at.node });
        return;
      }
      this.counts.forwardFailed++;
      this.forwarded.remove(visitor, m.connId);
      this.warnings.log('warn', 'connect-forward-failed', { conn: m.connId.slice(0, 8), service: m.service, node: at.node, reason: r.code });
      if (r.code !== 'node-gone') {
        fail(ControlErrorCode.TIMEOUT, `the rendezvous cluster's Redis did not take the connect for "${m.service}"; try again`);
        return;
      }
      gone = at;
    }
  }


  /** Fails the forwarded connects whose node did not answer in time, then re-arms. */
  private armAnswerTimer(): void {
    const at = this.forwarded.nextDeadline();
    if (at === null || this.closed) return;
    if (this.answerTimer !== null && this.answerTimer.at <= at) return;
    this.answerTimer?.timer.cancel();
    const timer = this.host.scheduler.at(at, () => {
      this.answerTimer = null;
      for (const x of this.forwarded.expire(this.host.scheduler.now())) {
        this.counts.forwardFailed++;
        this.host.refused(ControlErrorCode.TIMEOUT);
        this.host.sendLocal(x.visitor, { type: 'connect-failed', connId: x.connId, code: ControlErrorCode.TIMEOUT, message: `the provider's rendezvous node did not answer within ${this.node.timerTable.forwardAnswerMs} ms; try again` });
      }
      this.armAnswerTimer();
    });
    this.answerTimer = { at, timer };
  }

  private sendSetup(at: NodeAddress, visitor: PeerId, m: Connect | VisitorFollowUp): Promise<SendResult> {
    const rtt = this.host.setup.rttOf(visitor);
    return this.node.send(at, { type: 'peer', fromPeer: visitor, toPeer: SETUP_PEER, message: m, ...(rtt !== null ? { rttMs: Math.min(60_000, Math.round(rtt)) } : {}) });
  }

  private onMessage(from: NodeAddress, msg: ClusterMessage): void {
    if (this.closed) return;
    if (msg.type === 'peer-gone') {
      const p = this.remote.find(from, msg.peer);
      if (p !== undefined) this.endRemote(p);
      this.host.flush();
      return;
    }
    if (msg.type !== 'peer') return;
    if (msg.toPeer === SETUP_PEER) this.fromRemoteVisitor(from, msg);
    else this.toLocalVisitor(from, msg);
  }

  /** On the provider's node: a visitor on node `from` sends its setup a message. */
  private fromRemoteVisitor(from: NodeAddress, msg: Extract<ClusterMessage, { type: 'peer' }>): void {
    const parsed = parseClientMessage(msg.message);
    if (!parsed.ok || (parsed.message.type !== 'connect' && parsed.message.type !== 'confirm' && parsed.message.type !== 'offer')) {
      this.warnings.log('warn', 'cluster-peer-message-dropped', { node: from.node, reason: parsed.ok ? `"${parsed.message.type}" from a remote visitor` : parsed.reason });
      return;
    }
    const m = parsed.message;
    const { setup } = this.host;
    const now = this.host.scheduler.now();
    let p: RemotePeer | undefined;
    if (m.type === 'connect') {
      this.counts.remoteConnects++;
      // Our lease lapsed: the cluster may have given our names to another node meanwhile.
      if (!this.node.status().lease.held) {
        void this.node.send(from, { type: 'peer', fromPeer: SETUP_PEER, toPeer: msg.fromPeer, message: { type: 'connect-failed', connId: m.connId, code: ControlErrorCode.NO_SUCH_SERVICE, message: `no provider is serving "${m.service}" right now` } });
        return;
      }
      const t = this.remote.touch(from, msg.fromPeer);
      if (t.evicted !== null) setup.peerGone(t.evicted.id, now);
      if (t.created) setup.peerJoined(t.peer.id, 'visitor');
      p = t.peer;
    } else {
      p = this.remote.find(from, msg.fromPeer);
      if (p === undefined) return;
      this.remote.touch(from, msg.fromPeer);
    }
    if (msg.rttMs !== undefined) setup.peerRtt(p.id, msg.rttMs);
    setup.handle(p.id, m, now);
    this.host.flush();
  }

  /** On the visitor's node: the provider's node answers one of our visitors about a session it holds. */
  private toLocalVisitor(from: NodeAddress, msg: Extract<ClusterMessage, { type: 'peer' }>): void {
    const parsed = parseServerMessage(msg.message);
    const m = parsed.ok ? parsed.message : null;
    if (m === null || !isSessionAnswer(m)) {
      this.warnings.log('warn', 'cluster-peer-message-dropped', { node: from.node, reason: parsed.ok ? `"${parsed.message.type}" for a visitor` : parsed.reason });
      return;
    }
    const at = this.forwarded.get(msg.toPeer, m.connId);
    // Only the node that holds the session speaks for it.
    if (at === undefined || nodeKey(at) !== nodeKey(from)) {
      this.warnings.log('warn', 'cluster-peer-message-dropped', { node: from.node, reason: 'not a session of that node' });
      return;
    }
    if (m.type === 'connect-failed') this.forwarded.remove(msg.toPeer, m.connId);
    else this.forwarded.answered(msg.toPeer, m.connId);
    this.host.sendLocal(msg.toPeer, m.type === 'reply' ? { ...m, relay: at.advertise } : m);
  }

  /** The cluster layer never rejects by design; should it, the peer's request is lost, not the process. */
  private unexpected(what: string, err: unknown): void {
    this.warnings.log('warn', 'cluster-bridge-error', { what, error: err instanceof Error ? err.message : String(err) });
  }

  private async sweepRemote(): Promise<void> {
    if (this.remote.size === 0) return;
    const view = await this.node.view().catch(() => null);
    if (this.closed || view === null || view.nodes === null) return;
    const live = new Set(view.nodes.map((n) => nodeKey(n)));
    for (const p of this.remote.outside(live)) this.endRemote(p);
    this.host.flush();
  }

  private endNode(at: NodeAddress): void {
    for (const p of this.remote.onNode(at)) this.endRemote(p);
    this.host.flush();
  }

  private endRemote(p: RemotePeer): void {
    this.remote.delete(p);
    this.host.setup.peerGone(p.id, this.host.scheduler.now());
  }
}

function isSessionAnswer(m: ServerMessage): m is SessionAnswer {
  return m.type === 'reply' || m.type === 'connect-failed' || m.type === 'punch' || m.type === 'punch-request';
}

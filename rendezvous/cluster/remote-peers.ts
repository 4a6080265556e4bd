import type { NodeAddress } from './keys.js';

/** A visitor on another node, as this node's session setup knows it. */
export interface RemotePeer {
  /** Its PeerId here: "r<n>", never one of this node's own connection ids ("p<n>"). */
  readonly id: string;
  /** The node incarnation its messages come from, and answers go to. */
  readonly at: NodeAddress;
  /** Its connection id on that node. */
  readonly peer: string;
}

/**
 * On a provider's node: the visitors on other nodes that have sessions set
 * up here. Each gets a local PeerId so that SessionSetup treats it as one
 * more peer. At most `max`; when full, the one heard from least recently is
 * pushed out (the caller ends it in SessionSetup), since a node that died
 * without a word leaves entries behind until the sweep notices.
 */
export class RemotePeers {
  /** By node/incarnation/peer, in order of the last message (oldest first). */
  private readonly byKey = new Map<string, RemotePeer>();
  private readonly byId = new Map<string, RemotePeer>();
  private nextId = 1;

  constructor(private readonly max: number) {}

  /** The peer's entry, made if new; `evicted` is the entry pushed out to make room. */
  touch(at: NodeAddress, peer: string): { peer: RemotePeer; created: boolean; evicted: RemotePeer | null } {
    const key = keyOf(at, peer);
    const known = this.byKey.get(key);
    if (known !== undefined) {
      this.byKey.delete(key);
      this.byKey.set(key, known);
      return { peer: known, created: false, evicted: null };
    }
    let evicted: RemotePeer | null = null;
    if (this.byKey.size >= this.max) {
      const oldest = this.byKey.values().next();
      if (oldest.done !== true) {
        evicted = oldest.value;
        this.delete(evicted);
      }
    }
    const fresh: RemotePeer = { id: `r${this.nextId++}`, at, peer };
    this.byKey.set(key, fresh);
    this.byId.set(fresh.id, fresh);
    return { peer: fresh, created: true, evicted };
  }

  get(id: string): RemotePeer | undefined {
    return this.byId.get(id);
  }

  find(at: NodeAddress, peer: string): RemotePeer | undefined {
    return this.byKey.get(keyOf(at, peer));
  }

  delete(p: RemotePeer): void {
    this.byKey.delete(keyOf(p.at, p.peer));
    this.byId.delete(p.id);
  }

  /** The peers on node incarnations not in `live` ("node/incarnation" strings). */
  outside(live: ReadonlySet<string>): RemotePeer[] {
    return [...this.byId.values()].filter((p) => !live.has(nodeKey(p.at)));
  }

  onNode(at: NodeAddress): RemotePeer[] {
    const k = nodeKey(at);
    return [...this.byId.values()].filter((p) => nodeKey(p.at) === k);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** "node/incarnation": one incarnation of a node. */
export function nodeKey(at: NodeAddress): string {
  return `${at.node}/${at.incarnation}`;
}

function keyOf(at: NodeAddress, peer: string): string {
  return `${nodeKey(at)}/${peer}`;
}
